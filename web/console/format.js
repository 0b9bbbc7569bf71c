// The console's number format, the stripchart's (web/stripchart/stripchart.js): the
// console's latest values read as the dashboard's and the charts' legends do.
  // <formatValue> word for word in web/stripchart/stripchart.js and web/console/format.js
  // (tests/e2e/test_console.py compares them): console, dashboard and legends agree.
  // A signal's value for people (latest values, legends, read-outs): integers as integers;
  // otherwise 6 significant digits without trailing zeros; a value below 1e-9 of the
  // signal's scale (the largest magnitude seen of it) is 0, so a sine at its zero crossing
  // reads 0, not 6.761164496e-14; -0 is 0; magnitudes from 1e6 or below 1e-4 in compact
  // exponent form (1.5e-7, 2.34568e+9).
  export function formatValue(v, scale) {
    if (typeof v !== 'number') return v === null || v === undefined ? 'null' : String(v);
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (Number.isInteger(v) && a < 1e15) return String(v);  // String(-0) is "0"
    if (a === 0 || (scale > 0 && a < scale * 1e-9)) return '0';
    if (a >= 1e6 || a < 1e-4) return v.toExponential(5).replace(/\.?0+e/, 'e');
    var s = String(+v.toPrecision(6));
    return s === '-0' ? '0' : s;
  }
  // </formatValue>

// The largest magnitude seen per signal ("channel.field"): formatValue's scale.
const scales = {};
export function noteScale(signal, v) {
  const a = Math.abs(v);
  if (isFinite(a) && a > (scales[signal] || 0)) scales[signal] = a;
}
export const scaleOf = (signal) => scales[signal] || 0;
