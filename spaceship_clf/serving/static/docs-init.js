'use strict';
// Swagger UI's start-up, a file of its own so /docs needs no inline script.
window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true});
