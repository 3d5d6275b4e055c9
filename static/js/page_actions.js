/* What the pages do on a click, a submit or a change, wired by data- attributes instead of
   inline on…= handlers (the Content-Security-Policy runs no inline script):
   - form[data-confirm]: ask before submitting (the text of the attribute);
   - select[data-autosubmit]: submit its form when the choice changes;
   - [data-print]: print the page;
   - a[href^="javascript:"] (Flask-Admin's menu toggles): never followed.
   Delegated from the document, so content loaded later (the card's tabs) is covered too. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("select[data-autosubmit]") && field.form) {
      field.form.submit();
    }
  });
  // In the capture phase: Flask-Admin's menu script stops the click from bubbling up.
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-print], a[href^='javascript:']") : null;
    if (!target) { return; }
    event.preventDefault();
    if (target.hasAttribute("data-print")) { window.print(); }
  }, true);
})();
