/* Starts the vendored Swagger UI on /docs (a static file: the Content-Security-Policy allows no
   inline script). The OpenAPI document's address comes from the page's data-openapi-url. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") return;
  SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
