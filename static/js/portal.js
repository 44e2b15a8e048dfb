// Shared browser helpers. Page-specific modules live beside this file.
(function () {
  "use strict";
  // Read JSON embedded with Django's json_script filter.
  window.portalJSON = function (id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };
})();
