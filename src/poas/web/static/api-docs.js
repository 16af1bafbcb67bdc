/* Starts the vendored Swagger UI (/docs) or ReDoc (/redoc) from a static file: the
   Content-Security-Policy allows no inline script. The page names the OpenAPI document in
   data-openapi-url; ReDoc's run-time <style> elements carry the page's nonce (data-style-nonce). */
(function () {
  "use strict";
  var swagger = document.getElementById("swagger-ui");
  if (swagger && typeof SwaggerUIBundle !== "undefined") {
    SwaggerUIBundle({
      url: swagger.dataset.openapiUrl,
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis],
    });
  }
  var redoc = document.getElementById("redoc");
  if (redoc && typeof Redoc !== "undefined") {
    Redoc.init(redoc.dataset.openapiUrl, { nonce: redoc.dataset.styleNonce }, redoc);
  }
})();
