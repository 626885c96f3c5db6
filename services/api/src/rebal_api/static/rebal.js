// rebal dashboard: live refresh from the rebalancer event stream, charts, and the actions
// (each over the api's own endpoints, with an Idempotency-Key). No build step.
(function () {
  "use strict";
  const STREAM = "/v2/events/rebalancer";
  const TYPES = ["portfolio.status_changed", "run.created", "run.status_changed"];
  const QUIET_MS = 1000; // at most one refresh a second, however many events come
  const COLORS = { in_band: "#2e9e5b", drifting: "#e0a100", blocked: "#7a5bd6",
    awaiting_owner: "#2f6fdf", needs_adjustment: "#d64545", not_evaluated: "#a0a7b8" };
  const STATE_ORDER = ["needs_adjustment", "blocked", "awaiting_owner", "drifting", "in_band", "not_evaluated"];
  const RUN_COLORS = { QUEUED: "#2f6fdf", IN_PROGRESS: "#e0a100", COMPLETED_SUCCESS: "#2e9e5b",
    COMPLETED_ADJUSTED: "#7cb342", CANCELED: "#9e9e9e", CANCELED_MID_RUN: "#757575",
    ERROR: "#d64545", TIMEOUT: "#b71c1c" };

  let pending = null;
  function changed() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; document.body.dispatchEvent(new Event("rebal:changed")); }, QUIET_MS);
  }

  function live() {
    const badge = document.getElementById("live");
    const source = new EventSource(STREAM);
    source.onopen = () => { badge.textContent = "live"; badge.className = "live on"; };
    source.onerror = () => { badge.textContent = "offline, retrying"; badge.className = "live off"; };
    TYPES.forEach((t) => source.addEventListener(t, changed));
    source.onmessage = changed;
    window.addEventListener("pagehide", () => source.close());
  }

  function notice(text, error) {
    const el = document.getElementById("notice");
    el.textContent = text; el.hidden = false; el.className = error ? "error" : "notice";
  }

  async function call(method, url, body) {
    const key = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random();
    const headers = { "Idempotency-Key": key };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const answer = await fetch(url, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
    if (!answer.ok) {
      let message = answer.statusText;
      try { message = (await answer.json()).message || message; } catch (e) { /* not JSON */ }
      throw new Error(`${answer.status}: ${message}`);
    }
    return answer.status === 204 ? null : answer.json();
  }

  async function act(button, what, perform) {
    button.disabled = true;
    try {
      const said = await perform();
      notice(typeof said === "string" ? said : what + ": sent");
      document.body.dispatchEvent(new Event("rebal:changed"));
    }
    catch (e) { notice(what + " refused: " + e.message, true); button.disabled = false; }
  }

  function weights(text) {
    if (!text.trim()) return null;
    return text.split(",").map((part) => {
      const [symbol, percent] = part.split("=").map((s) => s.trim());
      return symbol.toLowerCase() === "cash" ? { type: "cash", percent: Number(percent) }
        : { type: "asset", symbol: symbol.toUpperCase(), percent: Number(percent) };
    });
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("button");
    if (!button) return;
    if (button.dataset.cancel) {
      act(button, "cancel run", () => call("DELETE", "/v1/rebalancing/runs/" + button.dataset.cancel));
    } else if (button.dataset.decide) {
      const { decide, portfolio, optimization } = button.dataset;
      const url = `/v1/portfolios/${encodeURIComponent(portfolio)}/optimizations/${encodeURIComponent(optimization)}/decision`;
      act(button, decide + " " + portfolio, () => call("POST", url, { owner_choice: decide }));
    }
  });

  document.addEventListener("submit", (e) => {
    if (e.target.id !== "manual-run") return;
    e.preventDefault();
    const form = e.target;
    const data = new FormData(form);
    const body = { account_id: data.get("account_id"), type: data.get("type"), weights: weights(data.get("weights") || "") };
    act(form.querySelector("button"), "manual run", async () => {
      const run = await call("POST", "/ui/runs", body);
      return `manual run ${run.id}: ${run.status}`;
    });
  });

  function chart(canvas) {
    if (!window.Chart || canvas.dataset.drawn) return;
    canvas.dataset.drawn = "1";
    const d = JSON.parse(canvas.dataset.chart);
    const base = { animation: false, responsive: true, aspectRatio: d.kind === "positions" ? 2.8 : 1.9 };
    if (d.kind === "states" || d.kind === "runs") {
      const colors = d.kind === "states" ? STATE_ORDER.map((s) => COLORS[s]) : d.labels.map((s) => RUN_COLORS[s] || "#999");
      new Chart(canvas, { type: "bar", data: { labels: d.labels, datasets: [{ data: d.values, backgroundColor: colors }] },
        options: { ...base, indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } } });
    } else if (d.kind === "positions") {
      const band = d.bands[0]; // the narrowest is the one that triggers: draw the first
      const range = d.target.map((t) => {
        if (!band || t === null) return null;
        const width = band[0] === "relative" ? t * band[1] / 100 : band[1];
        return [Math.max(t - width, 0), t + width];
      });
      const datasets = [
        { label: "current %", data: d.current, backgroundColor: "#2f6fdf", order: 1 },
        { label: "target %", data: d.target, backgroundColor: "#9db7e8", order: 2 },
      ];
      if (band) datasets.push({ label: `drift band (${band[0]} ${band[1]}%)`, data: range, grouped: false,
        backgroundColor: "rgba(224,161,0,0.18)", borderColor: "rgba(224,161,0,0.8)", borderWidth: 1, order: 3 });
      new Chart(canvas, { type: "bar", data: { labels: d.labels, datasets },
        options: { ...base, scales: { y: { beginAtZero: true, title: { display: true, text: "% of value" } } } } });
    }
  }

  function draw(root) { root.querySelectorAll("canvas.chart").forEach(chart); }

  document.addEventListener("DOMContentLoaded", () => {
    live();
    draw(document);
    if (window.htmx) window.htmx.onLoad(draw);
  });
})();
