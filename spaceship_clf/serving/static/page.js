'use strict';
// The page's one script (the Content-Security-Policy allows no inline code). It writes text with textContent and
// draws with SVG attributes only, so nothing typed or returned is ever read as HTML. What it offers (choices, limits,
// labels, examples, hints) is in the page, rendered by the app from the one passenger schema.
(() => {
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const make = (ns, tag, attrs, text) => {
    const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const el = (tag, attrs, text) => make(null, tag, attrs, text);
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs, text) => make(SVG_NS, tag, attrs, text);
  const logit = (p) => Math.log(p / (1 - p));
  const sigmoid = (x) => 1 / (1 + Math.exp(-x));
  const percent = (p) => (100 * p).toFixed(p < 0.1 || p > 0.9 ? 1 : 0) + '%';
  const signed = (v) => (v >= 0 ? '+' : '\u2212') + Math.abs(v).toFixed(2);
  const bytes = (n) => n < 1e6 ? Math.ceil(n / 1e3) + ' KB' : (n / 1e6).toFixed(1) + ' MB';
  const count = (n) => n.toLocaleString('en');

  async function post(url, body, type) {
    const headers = type ? {'Content-Type': type} : {};
    const started = performance.now();
    const r = await fetch(url, {method: 'POST', headers: headers, body: body});
    const isCsv = (r.headers.get('Content-Type') || '').startsWith('text/csv');
    let data;
    if (isCsv && r.ok) data = await r.text();
    else {
      try { data = await r.json(); } catch (e) { data = {error: 'the server answered HTTP ' + r.status + ' without a readable message'}; }
    }
    return {status: r.status, ok: r.ok, data: data, ms: performance.now() - started, version: r.headers.get('X-Model-Version')};
  }

  // ------------------------------------------------------------ errors: which field, what to do
  const fieldName = (field) => String(field || '').replace(/^\[\d+\]\.?/, '');
  const fieldBox = (name) => name ? $('.field[data-field="' + CSS.escape(name) + '"]') : null;
  const say = (p) => ({string_pattern_mismatch: 'not in the expected form', missing: 'required', string_too_long: 'too long',
                       less_than_equal: 'too large', greater_than_equal: 'too small', extra_forbidden: 'not a passenger column',
                       finite_number: 'not a finite number'})[p.type] || p.problem;
  const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);

  function clearFieldErrors() {
    for (const f of $$('.field.invalid')) {
      f.classList.remove('invalid');
      $('.field-error', f).textContent = '';
      for (const c of $$('input, select', f)) c.removeAttribute('aria-invalid');
    }
  }

  function markField(box, text) {
    box.classList.add('invalid');
    $('.field-error', box).textContent = text;
    for (const c of $$('input, select', box)) c.setAttribute('aria-invalid', 'true');
  }

  // The API names each field it refused (`problems`); the page says it beside the field with what to do (the field's
  // hint, from the schema), and lists them. A message about the whole request (a CSV line, a limit) is shown as sent.
  function showErrors(box, status, body, inForm) {
    box.replaceChildren();
    const problems = body.problems || [];
    const fields = problems.map((p) => fieldBox(fieldName(p.field)));
    const allMarked = inForm && problems.length > 0 && fields.every(Boolean);
    box.append(el('p', {class: 'error-title'}, status ? 'The API did not accept this (HTTP ' + status + ')' : 'Not sent'),
               el('p', {class: 'error-message'}, allMarked ? 'Fix the highlighted field' + (problems.length > 1 ? 's' : '') +
                                                            ', then predict again.' : body.error || 'unknown error'));
    if (problems.length) {
      const list = el('ul');
      problems.forEach((p, i) => {
        const field = fields[i];
        const hint = field ? field.dataset.hint : '';
        const label = field ? $('label', field).textContent.replace('*', '').trim() : p.field;
        const where = p.field.startsWith('[') ? 'passenger ' + (Number(p.field.slice(1, p.field.indexOf(']'))) + 1) + ', ' : '';
        list.append(el('li', {'data-field': p.field}, where + label + ': ' + say(p) + (hint ? ' \u2014 ' + hint : '')));
        if (inForm && field) markField(field, capital(say(p)) + (hint ? ': ' + hint : ''));
      });
      box.append(list);
    }
    box.hidden = false;
    const first = inForm && $('.field.invalid input, .field.invalid select');
    if (first) first.focus({preventScroll: true});
  }

  // ------------------------------------------------------------ one passenger
  const form = $('#passenger');
  const result = $('#result');
  const answer = $('#answer');
  const threshold = Number(result.dataset.threshold) || 0.5;
  const labels = JSON.parse($('#chart').dataset.labels || '{}');

  function readPassenger() {
    const passenger = {};
    const problems = [];
    for (const c of $$('[data-kind]', form)) {
      if (c.dataset.kind === 'cabin') {
        const parts = ['deck', 'number', 'side'].map((p) => $('[data-part="' + p + '"]', c).value.trim());
        if (parts.some(Boolean)) passenger[c.id] = parts.join('/');
        continue;
      }
      if (c.validity && c.validity.badInput) problems.push({field: c.name, problem: 'is not a number', type: 'not_a_number'});
      const v = c.value.trim();
      if (v === '') continue;
      passenger[c.name] = c.dataset.kind === 'number' ? Number(v) : c.dataset.kind === 'bool' ? v === 'true' : v;
    }
    return {passenger: passenger, problems: problems};
  }

  function fillPassenger(p) {
    clearFieldErrors();
    for (const c of $$('input, select', form)) c.value = '';
    for (const [name, value] of Object.entries(p)) {
      const c = $('[data-kind]#' + CSS.escape(name), form);
      if (!c) continue;
      if (c.dataset.kind === 'cabin') {
        const parts = String(value).split('/');
        ['deck', 'number', 'side'].forEach((part, i) => { $('[data-part="' + part + '"]', c).value = parts[i] || ''; });
      } else c.value = value === null ? '' : String(value);
    }
  }

  function resetAnswer(text) {
    answer.replaceChildren(text || '');
    answer.className = 'answer idle';
    delete answer.dataset.probability;
    delete answer.dataset.transported;
    for (const id of ['meter', 'why', 'errors']) $('#' + id).hidden = true;
    $('#meta').textContent = '';
  }

  function showAnswer(prediction, version, ms) {
    const p = prediction.probability;
    const side = prediction.Transported ? 'up' : 'down';
    const name = ($('#Name', form).value || '').trim() || prediction.PassengerId;
    answer.className = 'answer';
    answer.dataset.probability = String(p);
    answer.dataset.transported = String(prediction.Transported);
    answer.replaceChildren(
      el('span', {class: 'big'}, percent(p)),
      el('span', {class: 'pill ' + side}, prediction.Transported ? 'Transported' : 'Not transported'),
      el('span', {class: 'sentence'}, 'The model gives ' + name + ' a ' + percent(p) + ' chance of having been transported ' +
                                      '(the answer is yes from ' + percent(threshold) + ').'));
    const fill = $('#meter-fill');
    fill.className = 'meter-fill ' + side;
    fill.style.width = (100 * p).toFixed(2) + '%';
    $('#meter-threshold').style.left = 'calc(' + (100 * threshold).toFixed(2) + '% - 1px)';
    $('#meter').hidden = false;
    if (prediction.explanation) { $('#why').hidden = false; drawChart(prediction.explanation, p); }
    const card = result.dataset.version;
    $('#meta').textContent = 'Model version ' + version + ' · answered in ' + Math.round(ms) + ' ms' +
      (card && version !== card ? ' · a newer model than the card below: reload the page to see its card' : '');
  }

  // The waterfall: from the base (an average passenger) each column's contribution moves the log-odds; the axis is
  // labelled in probabilities. Small contributions are drawn together as one step, so the chart stays readable.
  let drawn = null;  // the last explanation drawn, redrawn when the chart's width changes
  function drawChart(explanation, probability) {
    const chart = $('#chart');
    drawn = [explanation, probability];
    chart.replaceChildren();
    const entries = Object.entries(explanation.contributions).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
    const shown = entries.filter(([, v], i) => i < 8 && Math.abs(v) >= 0.005);
    const rest = entries.slice(shown.length);
    const rows = shown.map(([name, v]) => ({name: name, label: (labels[name] || [name])[0], about: (labels[name] || [, name])[1], value: v}));
    if (rest.length) {
      rows.push({name: '(others)', label: rest.length + ' other column' + (rest.length > 1 ? 's' : ''),
                 about: rest.map(([n]) => (labels[n] || [n])[0]).join(', '), value: rest.reduce((s, [, v]) => s + v, 0)});
    }
    let at = explanation.base;
    for (const r of rows) { r.from = at; at += r.value; r.to = at; }
    const final = logit(Math.min(Math.max(probability, 1e-12), 1 - 1e-12));
    const ends = [explanation.base, final, logit(threshold)].concat(rows.map((r) => r.to));
    let lo = Math.min.apply(null, ends), hi = Math.max.apply(null, ends);
    const pad = Math.max(0.3, 0.08 * (hi - lo));
    lo -= pad; hi += pad;
    const W = Math.round(chart.getBoundingClientRect().width) || 560, left = Math.min(140, Math.round(0.38 * W)), right = 50, top = 24, rowH = 25;
    const H = top + (rows.length + 2) * rowH + 6;
    const x = (v) => left + (v - lo) / (hi - lo) * (W - left - right);
    chart.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    chart.dataset.base = String(explanation.base);
    chart.setAttribute('aria-label', 'Contributions, largest first: ' +
      rows.map((r) => r.label + ' ' + signed(r.value)).join(', ') + '; probability ' + percent(probability));

    let last = -Infinity;
    for (const p of [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99]) {
      const px = x(logit(p));
      if (logit(p) < lo || logit(p) > hi || px - last < 34) continue;
      last = px;
      const g = svg('g', {class: 'tick'});
      g.append(svg('line', {x1: px, x2: px, y1: top - 6, y2: H - 4}), svg('text', {x: px, y: 12, 'text-anchor': 'middle'}, Math.round(100 * p) + '%'));
      chart.append(g);
    }
    const t = svg('g', {class: 'threshold'});
    t.append(svg('line', {x1: x(logit(threshold)), x2: x(logit(threshold)), y1: top - 6, y2: H - 4}));
    chart.append(t);

    const mark = (row, v, label, value, cls) => {
      const y = top + row * rowH + rowH / 2;
      const g = svg('g', {class: 'mark ' + cls});
      g.append(svg('text', {class: 'label', x: left - 10, y: y + 4, 'text-anchor': 'end'}, label),
               svg('circle', {cx: x(v), cy: y, r: 5}),
               svg('text', {class: 'value', x: W - 4, y: y + 4, 'text-anchor': 'end'}, value));
      chart.append(g);
    };
    mark(0, explanation.base, left < 130 ? 'Average' : 'Average passenger', percent(sigmoid(explanation.base)), 'base');
    rows.forEach((r, i) => {
      const y = top + (i + 1) * rowH;
      const g = svg('g', {class: 'step ' + (r.value >= 0 ? 'up' : 'down'), 'data-column': r.name, 'data-value': String(r.value)});
      const x0 = x(Math.min(r.from, r.to)), width = Math.max(1.5, Math.abs(x(r.to) - x(r.from)));
      g.append(svg('title', {}, r.label + ': ' + signed(r.value) + ' log-odds ' + (r.value >= 0 ? 'towards' : 'away from') +
                                ' transported' + (r.about && r.about !== r.name ? ' (reads ' + r.about + ')' : '')),
               svg('text', {class: 'label', x: left - 10, y: y + rowH / 2 + 4, 'text-anchor': 'end'}, r.label),
               svg('line', {class: 'link', x1: x(r.from), x2: x(r.from), y1: y - rowH / 2 + 4, y2: y + 4}),
               svg('rect', {x: x0, y: y + 4, width: width, height: rowH - 8, rx: 3}),
               svg('text', {class: 'value', x: W - 4, y: y + rowH / 2 + 4, 'text-anchor': 'end'}, signed(r.value)));
      chart.append(g);
    });
    mark(rows.length + 1, final, left < 130 ? 'Answer' : 'This passenger', percent(probability), 'final');
  }

  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { if (drawn && !$('#why').hidden) drawChart(drawn[0], drawn[1]); }, 150);
  });

  async function predictOne(reveal) {
    clearFieldErrors();
    const read = readPassenger();
    $('#details').textContent = 'POST /predict?explain=true\n' + JSON.stringify(read.passenger, null, 1);
    if (read.problems.length) {
      resetAnswer();
      answer.className = 'answer error';
      answer.textContent = 'Error: ' + read.problems.length + ' field' + (read.problems.length > 1 ? 's' : '') + ' to fix';
      return showErrors($('#errors'), 0, {error: 'fix the highlighted fields, then predict again', problems: read.problems}, true);
    }
    const button = $('#predict');
    button.disabled = true;
    result.setAttribute('aria-busy', 'true');
    try {
      const r = await post('/predict?explain=true', JSON.stringify(read.passenger), 'application/json');
      $('#details').textContent += '\n\nHTTP ' + r.status + '\n' + JSON.stringify(r.data, null, 1);
      resetAnswer();
      if (!r.ok) {
        const problems = r.data.problems || [];
        answer.className = 'answer error';
        answer.textContent = 'Error ' + r.status + ': ' + (problems.length ? problems.length + ' field' + (problems.length > 1 ? 's' : '') +
                                                           ' to fix' : r.data.error || 'not answered');
        return showErrors($('#errors'), r.status, r.data, true);
      }
      showAnswer(r.data.predictions[0], r.data.model_version, r.ms);
      if (reveal && result.getBoundingClientRect().top > window.innerHeight * 0.6) result.scrollIntoView({block: 'start'});
    } catch (e) {
      resetAnswer();
      answer.className = 'answer error';
      answer.textContent = 'Error: no answer';
      showErrors($('#errors'), 0, {error: 'the API did not answer (' + e.message + '); check that the server is running'}, true);
    } finally {
      button.disabled = false;
      result.removeAttribute('aria-busy');
    }
  }

  form.addEventListener('submit', (ev) => { ev.preventDefault(); predictOne(true); });
  form.addEventListener('reset', () => setTimeout(() => {
    clearFieldErrors();
    for (const c of $$('.chip.active')) c.classList.remove('active');
    resetAnswer('Fill in a passenger, or pick an example, then press Predict.');
  }));
  form.addEventListener('input', (ev) => {
    const box = ev.target.closest('.field');
    if (box && box.classList.contains('invalid')) {
      box.classList.remove('invalid');
      $('.field-error', box).textContent = '';
    }
  });
  form.addEventListener('change', () => {  // once there is an answer, it follows the form
    if (answer.dataset.probability !== undefined) predictOne();
  });
  for (const chip of $$('[data-passenger]')) {
    chip.addEventListener('click', () => {
      fillPassenger(JSON.parse(chip.dataset.passenger));
      for (const c of $$('.chip.active')) c.classList.remove('active');
      chip.classList.add('active');
      predictOne(true);
    });
  }

  // ------------------------------------------------------------ a travel group or a file
  const batch = $('#batch');
  const maxBytes = Number(batch.dataset.maxBytes) || Infinity;
  const textBox = $('#csvtext');
  const table = {rows: [], view: [], key: 'row', direction: 1, page: 0, size: 20};
  let file = null;
  let downloadUrl = null;

  function chooseFile(f) {
    file = f || null;
    $('#filename').textContent = file ? file.name + ' (' + bytes(file.size) + ') will be sent' : '';
    if (!file) $('#csvfile').value = '';
  }

  function batchError(status, body) {
    $('#batch-result').hidden = true;
    showErrors($('#batch-errors'), status, body, false);
  }

  function parseAnswers(text) {
    const rows = [];
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      if (!lines[i]) continue;
      const [id, transported, probability] = lines[i].split(',');
      rows.push({row: rows.length + 1, id: id, transported: transported === 'True', probability: Number(probability)});
    }
    return rows;
  }

  function sortRows() {
    const k = table.key, d = table.direction;
    table.view = table.rows.slice().sort((a, b) => (a[k] < b[k] ? -d : a[k] > b[k] ? d : a.row - b.row));
    for (const th of $$('#results th')) {
      th.setAttribute('aria-sort', $('button', th).dataset.sort === k ? (d > 0 ? 'ascending' : 'descending') : 'none');
    }
  }

  function renderPage() {
    const pages = Math.max(1, Math.ceil(table.view.length / table.size));
    table.page = Math.min(Math.max(0, table.page), pages - 1);
    const start = table.page * table.size;
    const body = $('#results tbody');
    body.replaceChildren();
    for (const r of table.view.slice(start, start + table.size)) {
      const side = r.transported ? 'up' : 'down';
      const bar = el('span', {class: 'mini'});
      const fill = el('div', {class: side});
      fill.style.width = (100 * r.probability).toFixed(1) + '%';
      bar.append(fill);
      const probability = el('td', {'data-probability': String(r.probability)});
      probability.append(bar, document.createTextNode(percent(r.probability)));
      const answerCell = el('td');
      answerCell.append(el('span', {class: 'pill ' + side}, r.transported ? 'Transported' : 'Not transported'));
      const tr = el('tr');
      tr.append(el('td', {class: 'num'}, String(r.row)), el('td', {}, r.id), answerCell, probability);
      body.append(tr);
    }
    const end = Math.min(start + table.size, table.view.length);
    $('#page-info').textContent = 'rows ' + count(start + 1) + '\u2013' + count(end) + ' of ' + count(table.view.length) +
                                  ' · page ' + (table.page + 1) + ' of ' + pages;
    $('#first').disabled = $('#prev').disabled = table.page === 0;
    $('#last').disabled = $('#next').disabled = table.page >= pages - 1;
  }

  function showTable(rows, version) {
    table.rows = rows; table.key = 'row'; table.direction = 1; table.page = 0;
    sortRows();
    renderPage();
    const yes = rows.filter((r) => r.transported).length;
    const share = rows.length ? yes / rows.length : 0;
    const summary = $('#summary');
    const stat = (n, text) => { const s = el('span', {class: 'stat'}); s.append(el('strong', {}, n), document.createTextNode(' ' + text)); return s; };
    const bar = el('div', {class: 'share', title: percent(share) + ' transported'});
    const fill = el('div');
    fill.style.width = (100 * share).toFixed(1) + '%';
    bar.append(fill);
    summary.replaceChildren(stat(count(rows.length), rows.length === 1 ? 'passenger' : 'passengers'),
                            stat(count(yes), 'transported (' + percent(share) + ')'),
                            stat(count(rows.length - yes), 'not transported'),
                            el('span', {class: 'muted small'}, 'model version ' + (version || '?')), bar);
    summary.dataset.passengers = String(rows.length);
    summary.dataset.transported = String(yes);
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    const submission = 'PassengerId,Transported\n' + rows.map((r) => r.id + ',' + (r.transported ? 'True' : 'False')).join('\n') + '\n';
    downloadUrl = URL.createObjectURL(new Blob([submission], {type: 'text/csv'}));
    $('#download').href = downloadUrl;
    $('#batch-errors').hidden = true;
    $('#batch-result').hidden = false;
  }

  batch.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = textBox.value;
    if (!file && !text.trim()) return batchError(0, {error: 'paste passengers in the box or choose a CSV file first'});
    const size = file ? file.size : new Blob([text]).size;
    if (size > maxBytes) {
      return batchError(413, {error: 'the file is ' + bytes(size) + ', over the limit of ' + bytes(maxBytes) +
                                     ': split it, or predict it with python model.py predict --dataset=FILE'});
    }
    let body = text, type = 'text/csv';
    if (file) { body = new FormData(); body.append('file', file); type = null; }
    const button = $('#predict-csv');
    button.disabled = true;
    try {
      const r = await post('/predict?probability=true', body, type);
      if (!r.ok) return batchError(r.status, r.data);
      showTable(parseAnswers(r.data), r.version);
    } catch (e) {
      batchError(0, {error: 'the API did not answer (' + e.message + '); check that the server is running'});
    } finally {
      button.disabled = false;
    }
  });
  $('#csvfile').addEventListener('change', (ev) => chooseFile(ev.target.files[0]));
  const drop = $('#drop');
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    if (ev.dataTransfer.files.length) chooseFile(ev.dataTransfer.files[0]);
  });
  textBox.addEventListener('input', () => { if (file) chooseFile(null); });
  $('#example-group').addEventListener('click', (ev) => { chooseFile(null); textBox.value = ev.currentTarget.dataset.csv; });
  for (const b of $$('#results th button')) {
    b.addEventListener('click', () => {
      const k = b.dataset.sort;
      table.direction = table.key === k ? -table.direction : (k === 'probability' ? -1 : 1);
      table.key = k; table.page = 0;
      sortRows();
      renderPage();
    });
  }
  $('#first').addEventListener('click', () => { table.page = 0; renderPage(); });
  $('#prev').addEventListener('click', () => { table.page -= 1; renderPage(); });
  $('#next').addEventListener('click', () => { table.page += 1; renderPage(); });
  $('#last').addEventListener('click', () => { table.page = Infinity; renderPage(); });
})();
