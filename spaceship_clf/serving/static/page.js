'use strict';
// The page's one script (the Content-Security-Policy allows no inline code): it sends the form as JSON, or the pasted
// text as CSV, to /predict and shows the answer with textContent, so nothing typed or returned is ever read as HTML.
const show = (answer, details) => {
  document.getElementById('answer').textContent = answer;
  document.getElementById('details').textContent = details || '';
};
const problems = (body) => (body.problems || []).map(p => p.field + ': ' + p.problem).join('\n');
async function send(body, type) {
  try {
    const r = await fetch('/predict', {method: 'POST', headers: {'Content-Type': type}, body: body});
    if ((r.headers.get('Content-Type') || '').startsWith('text/csv')) {
      return show('Predictions (' + r.status + ')', await r.text());
    }
    const data = await r.json();
    if (!r.ok) return show('Error ' + r.status + ': ' + data.error, problems(data));
    const lines = data.predictions.map(p => p.PassengerId + ': ' + (p.Transported ? 'transported' : 'not transported') +
                                          ' (probability ' + p.probability.toFixed(3) + ')');
    show(lines.join('; '), 'model version ' + data.model_version);
  } catch (e) { show('Error: ' + e, ''); }
}
document.getElementById('passenger').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const passenger = {};
  for (const el of ev.target.querySelectorAll('[data-kind]')) {
    const v = el.value.trim();
    if (v === '') continue;
    passenger[el.name] = el.dataset.kind === 'number' ? Number(v) : el.dataset.kind === 'bool' ? v === 'true' : v;
  }
  send(JSON.stringify(passenger), 'application/json');
});
document.getElementById('csv').addEventListener('submit', (ev) => {
  ev.preventDefault();
  send(document.getElementById('csvtext').value, 'text/csv');
});
