/* Date pickers in the page's language: Swedish month and day names, weeks from Monday, ISO
   dates (YYYY-MM-DD). Labels come from this script tag's data-* attributes (translated on the
   server). Fields with data-role="datepicker" on pages without Flask-Admin's form.js get the
   same picker here. Typed dates (20261205, 5/12, idag) are read on the server (services.dates). */
(function () {
  "use strict";
  var script = document.currentScript;
  var lang = (document.documentElement.lang || "sv").slice(0, 2);
  if (window.moment) {
    if (lang === "sv" && moment.locales().indexOf("sv") >= 0) {
      moment.locale("sv");
    } else {
      moment.locale("en");
      moment.updateLocale("en", { week: { dow: 1, doy: 4 } });
    }
  }
  if (!window.jQuery) {
    return;
  }
  var labels = {};
  ["apply", "cancel", "from", "to", "week"].forEach(function (key) {
    if (script && script.dataset[key]) {
      labels[key + "Label"] = script.dataset[key];
    }
  });
  jQuery(function ($) {
    var original = $.fn.daterangepicker;
    if (!original) {
      return;
    }
    $.fn.daterangepicker = function (options, callback) {
      var locale = $.extend({ firstDay: 1 }, labels, (options && options.locale) || {});
      return original.call(this, $.extend({}, options, { locale: locale }), callback);
    };
    if (!window.faForm) {
      $('[data-role="datepicker"]').each(function () {
        var $el = $(this);
        $el.daterangepicker({
          singleDatePicker: true,
          showDropdowns: true,
          timePicker: false,
          format: $el.attr("data-date-format") || "YYYY-MM-DD",
        });
      });
    }
  });
})();
