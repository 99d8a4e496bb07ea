// What every judging page shares.
const $ = (id) => document.getElementById(id);
function escapeHtml(text) { return String(text).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c])); }
