// Start Swagger UI from the bundled files with the configuration the page carries.
// Session calls from this page send the CSRF token; token users use "Authorize".
(function () {
  var config = JSON.parse(document.getElementById("gongzhi-docs-config").textContent);
  var csrf = document.body.getAttribute("data-csrf-token");
  config.dom_id = "#swagger-ui";
  config.presets = [SwaggerUIBundle.presets.apis];
  config.requestInterceptor = function (request) {
    if (csrf) { request.headers["X-CSRFToken"] = csrf; }
    return request;
  };
  window.ui = SwaggerUIBundle(config);
})();
