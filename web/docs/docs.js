// Starts Swagger UI on the same origin's OpenAPI document. A file of its own
// because the page's Content-Security-Policy allows no inline script.
/* global SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  // The default validator badge loads an image from validator.swagger.io: no remote origins.
  validatorUrl: null,
  // Commands are known by name (journey.create), which is the operationId.
  displayOperationId: true,
  deepLinking: true,
  docExpansion: "list",
  defaultModelsExpandDepth: 0,
  // Credentials typed into "Authorize" stay in memory, never in localStorage.
  persistAuthorization: false,
});
