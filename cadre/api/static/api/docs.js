/* The API documentation inside the site's layout: ninja's Swagger set-up, reading the CSRF
   token from the documentation's own container (the layout's <body> carries no data). */
(function () {
  const container = document.getElementById("swagger-csrf");
  const config = JSON.parse(document.getElementById("swagger-settings").textContent);
  config.dom_id = "#swagger-ui";
  config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  if (container.dataset.apiCsrf && container.dataset.csrfToken) {
    config.requestInterceptor = (request) => {
      request.headers["X-CSRFToken"] = container.dataset.csrfToken;
      return request;
    };
  }
  SwaggerUIBundle(config);
})();
