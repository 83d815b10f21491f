/// `GET /api/docs`: a self-contained page (no fonts, scripts or styles from elsewhere) that fetches
/// `/api/openapi.json` and renders it: operations grouped by tag (module) with their parameters, bodies,
/// responses and schemas, and the named schemas at the end.
enum OpenAPIDocsPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Parley API</title>
    <style>
      :root { --fg: #1d2330; --muted: #5d6677; --line: #dfe3ea; --bg: #f7f8fa; --code: #eef1f5; }
      * { box-sizing: border-box; }
      body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
      header { padding: 16px 24px; border-bottom: 1px solid var(--line); background: var(--bg); }
      header h1 { margin: 0 0 4px; font-size: 22px; }
      header p { margin: 0; color: var(--muted); max-width: 70em; }
      #filter { margin-top: 10px; width: 100%; max-width: 420px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
      .layout { display: flex; }
      nav { width: 230px; flex: none; padding: 16px; border-right: 1px solid var(--line); position: sticky; top: 0; align-self: flex-start;
            max-height: 100vh; overflow: auto; }
      nav a { display: block; color: var(--fg); text-decoration: none; padding: 2px 0; }
      nav a:hover { text-decoration: underline; }
      nav .count { color: var(--muted); font-size: 12px; }
      main { flex: 1; padding: 8px 24px 48px; min-width: 0; }
      h2 { margin: 28px 0 4px; font-size: 19px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
      .tagdesc { color: var(--muted); margin: 0 0 8px; }
      details.op { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; background: #fff; }
      details.op > summary { cursor: pointer; padding: 6px 10px; list-style: none; display: flex; gap: 10px; align-items: baseline; }
      details.op > summary::-webkit-details-marker { display: none; }
      .method { font: 600 12px/1 ui-monospace, monospace; text-transform: uppercase; padding: 4px 6px; border-radius: 4px; color: #fff;
                min-width: 58px; text-align: center; }
      .get { background: #2f6fb3; } .post { background: #2e8b57; } .patch { background: #b7791f; }
      .put { background: #8a5cb8; } .delete { background: #c0392b; } .other { background: #667; }
      .path { font-family: ui-monospace, monospace; font-weight: 600; word-break: break-all; }
      .sum { color: var(--muted); }
      .lock { font-size: 12px; color: var(--muted); margin-left: auto; white-space: nowrap; }
      .body { padding: 4px 14px 12px; border-top: 1px solid var(--line); }
      .body h4 { margin: 12px 0 4px; font-size: 14px; }
      table { border-collapse: collapse; width: 100%; font-size: 14px; }
      th, td { text-align: left; border-bottom: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
      th { color: var(--muted); font-weight: 500; }
      code, .schema { font-family: ui-monospace, monospace; font-size: 13px; }
      code { background: var(--code); padding: 1px 4px; border-radius: 3px; }
      .schema { background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px; white-space: pre-wrap;
                overflow-x: auto; margin: 4px 0; }
      .schema a { color: #2f6fb3; }
      .status { font-family: ui-monospace, monospace; font-weight: 600; }
      .ok { color: #2e8b57; } .err { color: #c0392b; }
      .muted { color: var(--muted); }
      .hidden { display: none; }
    </style>
    </head>
    <body>
    <header>
      <h1 id="title">Parley API</h1>
      <p id="description">Loading /api/openapi.json…</p>
      <input id="filter" type="search" placeholder="Filter by path, summary or tag" autocomplete="off">
    </header>
    <div class="layout">
      <nav id="nav"></nav>
      <main id="main"></main>
    </div>
    <script>
    "use strict";
    (function () {
      const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];
      const esc = (text) => String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
      const el = (id) => document.getElementById(id);
      const slug = (text) => String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-");
      const inlineCode = (text) => esc(text).replace(/`([^`]+)`/g, "<code>$1</code>");

      // A schema as indented, readable text; $refs link to the schema's section below.
      function schemaText(schema, depth) {
        const pad = "  ".repeat(depth);
        if (!schema || typeof schema !== "object" || Object.keys(schema).length === 0) return "any";
        if (schema.$ref) {
          const name = schema.$ref.split("/").pop();
          return `<a href="#schema-${slug(name)}">${esc(name)}</a>`;
        }
        const note = schema.description ? ` <span class="muted">// ${esc(schema.description)}</span>` : "";
        if (schema.allOf && schema.allOf.length === 1) return schemaText(schema.allOf[0], depth) + note;
        if (schema.anyOf || schema.oneOf) {
          return (schema.anyOf || schema.oneOf).map((s) => schemaText(s, depth)).join(" | ") + note;
        }
        const types = Array.isArray(schema.type) ? schema.type : [schema.type];
        if (types.includes("object") && schema.properties) {
          const required = new Set(schema.required || []);
          const lines = Object.entries(schema.properties).map(([key, value]) =>
            `${pad}  ${esc(key)}${required.has(key) ? "" : "?"}: ${schemaText(value, depth + 1)}`);
          return `{${note}\n${lines.join("\n")}\n${pad}}` + (types.includes("null") ? " | null" : "");
        }
        if (types.includes("array")) {
          let text = `[${schemaText(schema.items, depth)}]`;
          const bounds = [schema.minItems != null ? `min ${schema.minItems}` : "", schema.maxItems != null ? `max ${schema.maxItems}` : ""].filter(Boolean);
          if (bounds.length) text += ` (${bounds.join(", ")})`;
          return text + note;
        }
        let text = types.filter(Boolean).join(" | ") || "any";
        const facts = [];
        if (schema.const !== undefined) facts.push(`= ${JSON.stringify(schema.const)}`);
        if (schema.enum) facts.push(schema.enum.map((v) => JSON.stringify(v)).join(" | "));
        if (schema.format) facts.push(schema.format);
        if (schema.minLength != null || schema.maxLength != null) facts.push(`length ${schema.minLength ?? 0}..${schema.maxLength ?? "∞"}`);
        if (schema.minimum != null || schema.maximum != null) facts.push(`${schema.minimum ?? "−∞"}..${schema.maximum ?? "∞"}`);
        if (schema.pattern) facts.push(`/${schema.pattern}/`);
        if (facts.length) text += ` (${esc(facts.join("; "))})`;
        return text + note;
      }

      function operationHTML(path, method, op) {
        const parts = [];
        if (op.description) parts.push(`<p>${inlineCode(op.description)}</p>`);
        const params = op.parameters || [];
        if (params.length) {
          parts.push("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>schema</th><th>description</th></tr>" +
            params.map((p) => `<tr><td><code>${esc(p.name)}</code>${p.required ? " *" : ""}</td><td>${esc(p.in)}</td>` +
              `<td class="schema-cell"><code>${schemaText(p.schema, 0)}</code></td><td>${inlineCode(p.description || "")}</td></tr>`).join("") +
            "</table>");
        }
        if (op.requestBody) {
          const body = op.requestBody;
          parts.push(`<h4>Request body${body.required ? "" : " (optional)"}</h4>`);
          for (const [type, media] of Object.entries(body.content || {})) {
            parts.push(`<div><code>${esc(type)}</code></div><div class="schema">${schemaText(media.schema, 0)}</div>`);
          }
        }
        parts.push("<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th></tr>");
        for (const [status, response] of Object.entries(op.responses || {})) {
          const klass = /^[23]/.test(status) ? "ok" : "err";
          const bodies = Object.entries(response.content || {}).map(([type, media]) =>
            `<div><code>${esc(type)}</code></div>` + (media.schema ? `<div class="schema">${schemaText(media.schema, 0)}</div>` : "")).join("");
          parts.push(`<tr><td class="status ${klass}">${esc(status)}</td><td>${inlineCode(response.description || "")}</td><td>${bodies}</td></tr>`);
        }
        parts.push("</table>");
        const secured = (op.security || []).some((s) => Object.keys(s).length > 0);
        return `<details class="op" data-search="${esc((method + " " + path + " " + (op.summary || "") + " " + (op.tags || []).join(" ")).toLowerCase())}">` +
          `<summary><span class="method ${METHODS.slice(0, 5).includes(method) ? method : "other"}">${esc(method)}</span>` +
          `<span class="path">${esc(path)}</span><span class="sum">${esc(op.summary || "")}</span>` +
          `<span class="lock">${secured ? "🔒 bearer token" : "public"}</span></summary>` +
          `<div class="body">${parts.join("")}</div></details>`;
      }

      function render(doc) {
        el("title").textContent = `${doc.info.title} API ${doc.info.version ? "· " + doc.info.version : ""}`;
        el("description").innerHTML = inlineCode(doc.info.description || "");
        const descriptions = Object.fromEntries((doc.tags || []).map((t) => [t.name, t.description || ""]));
        const byTag = new Map((doc.tags || []).map((t) => [t.name, []]));
        for (const [path, item] of Object.entries(doc.paths || {})) {
          for (const method of METHODS) {
            const op = item[method];
            if (!op) continue;
            for (const tag of op.tags && op.tags.length ? op.tags : ["other"]) {
              if (!byTag.has(tag)) byTag.set(tag, []);
              byTag.get(tag).push(operationHTML(path, method, op));
            }
          }
        }
        const nav = [], main = [];
        for (const [tag, ops] of byTag) {
          if (!ops.length) continue;
          nav.push(`<a href="#tag-${slug(tag)}">${esc(tag)} <span class="count">${ops.length}</span></a>`);
          main.push(`<section class="tag"><h2 id="tag-${slug(tag)}">${esc(tag)}</h2>` +
            (descriptions[tag] ? `<p class="tagdesc">${inlineCode(descriptions[tag])}</p>` : "") + ops.join("") + "</section>");
        }
        const schemas = Object.entries((doc.components || {}).schemas || {});
        if (schemas.length) {
          nav.push(`<a href="#schemas">Schemas <span class="count">${schemas.length}</span></a>`);
          main.push(`<section><h2 id="schemas">Schemas</h2>` + schemas.map(([name, schema]) =>
            `<h4 id="schema-${slug(name)}"><code>${esc(name)}</code></h4><div class="schema">${schemaText(schema, 0)}</div>`).join("") + "</section>");
        }
        el("nav").innerHTML = nav.join("");
        el("main").innerHTML = main.join("");
      }

      el("filter").addEventListener("input", (event) => {
        const needle = event.target.value.trim().toLowerCase();
        for (const op of document.querySelectorAll("details.op")) {
          op.classList.toggle("hidden", needle !== "" && !op.dataset.search.includes(needle));
        }
        for (const section of document.querySelectorAll("section.tag")) {
          section.classList.toggle("hidden", section.querySelectorAll("details.op:not(.hidden)").length === 0);
        }
      });

      fetch("/api/openapi.json", { headers: { Accept: "application/json" } })
        .then((response) => { if (!response.ok) throw new Error(`HTTP ${response.status}`); return response.json(); })
        .then(render)
        .catch((error) => { el("description").textContent = `Could not load /api/openapi.json: ${error.message}`; });
    })();
    </script>
    </body>
    </html>
    """#
}
