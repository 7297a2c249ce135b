// The new-invoice form on a Smart visit: line amounts, totals and the benefit balance check.
// A static file (not inline) so the Content Security Policy can forbid inline script;
// the balances come from data attributes on #benefit-balances.
(function () {
  "use strict";
  var form = document.getElementById("invoice-form"); if (!form) return;
  var balances = {};
  document.querySelectorAll("#benefit-balances [data-benefit]").forEach(function (el) {
    var v = el.dataset.balance;
    balances[el.dataset.benefit] = v === "" ? null : parseFloat(v);
  });
  function num(el) { var v = parseFloat(el && el.value); return isNaN(v) ? 0 : v; }
  function update() {
    var total = 0;
    form.querySelectorAll("table.lines tbody tr").forEach(function (row) {
      var q = row.querySelector("input[name$=quantity]"), p = row.querySelector("input[name$=unit_price]");
      if (!q || !p) return;
      var amount = num(q) * num(p); total += amount;
      row.querySelector(".amount").textContent = amount ? amount.toFixed(2) : "—";
    });
    var copay = num(document.getElementById("id_copay_amount"));
    var claimed = total - copay;
    document.getElementById("total").textContent = total.toFixed(2);
    var c = document.getElementById("claimed"); if (c) c.textContent = claimed.toFixed(2);
    var balance = balances[document.getElementById("id_benefit").value];
    document.getElementById("balance").textContent = balance === null || balance === undefined ? "—" : balance.toFixed(2);
    document.getElementById("over").hidden = !(balance !== null && balance !== undefined && claimed > balance);
  }
  form.addEventListener("input", update); form.addEventListener("change", update); update();
})();
