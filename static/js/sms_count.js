/* Characters and SMS parts of the message as it is typed (the same rule as services/sms.py:
   GSM 7-bit 160, then 153 a part; any other character makes it UCS-2: 70, then 67). */
(function () {
  "use strict";
  var basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
              "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var extended = "^{}\\[~]|€\f";
  var text = document.querySelector("#sms-form textarea[name=message]");
  var out = document.getElementById("sms-count");
  if (!text || !out) { return; }
  function parts(value) {
    var chars = Array.from(value), gsm = true, units = 0;
    chars.forEach(function (c) {
      if (extended.indexOf(c) >= 0) { units += 2; } else if (basic.indexOf(c) >= 0) { units += 1; } else { gsm = false; }
    });
    if (!gsm) { units = value.length; }  // UTF-16 code units, as UCS-2 counts them
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    return units <= single ? (units ? 1 : 0) : Math.ceil(units / multi);
  }
  function update() {
    out.textContent = out.dataset.template.replace("{chars}", Array.from(text.value).length).replace("{parts}", parts(text.value));
  }
  text.addEventListener("input", update);
  update();
})();
