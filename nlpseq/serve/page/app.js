// The nlpseq serve page: plain JavaScript, no build step, no CDN.
// Everything it shows comes from GET /v1/models (task, classes, options) and the results' own fields,
// so a task the page has never heard of still gets its options and a JSON view of its results.
"use strict";

const state = { models: [], model: null };
const $ = (id) => document.getElementById(id);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function call(path, body) {
  const answer = await fetch(path, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  if (!answer.ok) {
    let message = `${answer.status}`;
    try { message += `: ${(await answer.json()).error}`; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return answer;
}

// ---------------------------------------------------------------------------------------- models
async function loadModels() {
  const answer = await fetch("/v1/models");
  state.models = (await answer.json()).models;
  const select = $("model");
  select.replaceChildren(...state.models.map((m) => el("option", { value: m.name }, `${m.name}`)));
  const wanted = new URLSearchParams(location.search).get("model");
  if (wanted && state.models.some((m) => m.name === wanted)) select.value = wanted;
  select.addEventListener("change", () => pick(select.value));
  pick(select.value);
}

function pick(name) {
  const model = state.models.find((m) => m.name === name);
  state.model = model;
  $("model-task").textContent = model ? model.task : "";
  $("result").replaceChildren();
  $("generated").replaceChildren();
  showError("");
  $("options").replaceChildren(...(model ? model.options.map(optionField) : []));
  $("generate-panel").hidden = !(model && model.generates);
  const conditions = (model && model.classes.conditions) || [];
  $("condition-label").hidden = conditions.length === 0;
  $("condition").replaceChildren(...conditions.map((c) => el("option", { value: c }, c)));
  document.body.dataset.task = model ? model.task : "";
}

// One form field per declared option: a checkbox for a switch, a list for choices, else a number/text.
function optionField(option) {
  const id = `option-${option.name}`;
  let input;
  if (option.type === "bool") {
    input = el("input", { id, type: "checkbox" });
  } else if (option.choices) {
    input = el("select", { id }, el("option", { value: "" }, "(default)"),
      ...option.choices.map((c) => el("option", { value: c }, c)));
  } else {
    const numeric = option.type === "int" || option.type === "float";
    input = el("input", { id, type: numeric ? "number" : "text", placeholder: "default" });
    if (option.type === "float") input.step = "any";
    const range = option.range || {};
    if (range.ge !== undefined) input.min = range.ge;
    if (range.le !== undefined) input.max = range.le;
  }
  input.dataset.option = option.name;
  input.dataset.type = option.type;
  return el("label", { title: option.help }, `${option.name.replaceAll("_", " ")} `, input);
}

function optionValues() {
  const values = {};
  for (const input of $("options").querySelectorAll("[data-option]")) {
    const type = input.dataset.type;
    if (type === "bool") { if (input.checked) values[input.dataset.option] = true; continue; }
    if (input.value === "") continue;
    values[input.dataset.option] = type === "int" ? parseInt(input.value, 10)
      : type === "float" ? parseFloat(input.value) : input.value;
  }
  return values;
}

// ---------------------------------------------------------------------------------------- predict
async function predict() {
  showError("");
  const inputs = $("text").value.split("\n").filter((line) => line.trim() !== "");
  const button = $("predict");
  button.disabled = true;
  try {
    const answer = await call(`/v1/models/${state.model.name}/predict`, { inputs, options: optionValues() });
    const body = await answer.json();
    $("result").replaceChildren(...body.outputs.map((output, i) => renderOutput(inputs[i], output)));
  } catch (error) {
    showError(error.message);
  } finally {
    button.disabled = false;
  }
}

function renderOutput(text, output) {
  const item = el("div", { class: "item" });
  if (output.probabilities) item.append(probabilityBars(output));
  else if (output.entities || output.tags) item.append(entitySpans(text, output));
  else if ("translation" in output) item.append(...translationView(output));
  else if ("perplexity" in output) {
    const value = output.perplexity === null ? "-" : output.perplexity.toFixed(2);
    const condition = output.condition ? ` (likeliest condition: ${output.condition})` : "";
    item.append(el("div", { class: "perplexity" }, `perplexity ${value}${condition}`));
  } else item.append(el("pre", {}, JSON.stringify(output, null, 1)));
  return item;
}

function probabilityBars(output) {
  const rows = Object.entries(output.probabilities).sort((a, b) => b[1] - a[1]);
  return el("div", { class: "bars" }, ...rows.map(([label, p]) => el("div", { class: "bar-row" },
    el("span", { class: "name" }, label),
    el("span", { class: `bar${label === output.label ? " best" : ""}`, style: `width: ${Math.max(1, p * 300)}px` }),
    el("span", { class: "value" }, `${(p * 100).toFixed(1)}%`))));
}

// Entities highlighted in the text by their character offsets; without a tag scheme, word/TAG pairs.
function entitySpans(text, output) {
  const line = el("div", { class: "tagged" });
  if (!output.entities) {
    line.append(output.words.map((w, i) => `${w}/${output.tags[i]}`).join(" "));
    return line;
  }
  const source = typeof text === "string" ? text : output.words.join(" ");
  let at = 0;
  for (const entity of output.entities) {
    line.append(source.slice(at, entity.start));
    line.append(el("mark", { class: "entity", "data-type": entity.type, title: entity.type },
      source.slice(entity.start, entity.end), el("sup", {}, entity.type)));
    at = entity.end;
  }
  line.append(source.slice(at));
  return line;
}

function translationView(output) {
  const parts = [el("div", { class: "translation" }, output.translation)];
  if (output.n_best) {
    parts.push(el("ol", { class: "nbest" }, ...output.n_best.map((h) =>
      el("li", {}, `${h.translation} `, el("span", { class: "status" }, `(${h.score.toFixed(3)})`)))));
  }
  if (output.attention) parts.push(heatmap(output));
  return parts;
}

// Rows: target pieces; columns: source pieces; darker = more attention.
function heatmap(output) {
  const head = el("tr", {}, el("th"), ...output.source_pieces.map((p) => el("th", {}, p)));
  const rows = output.attention.map((weights, i) => el("tr", {}, el("th", {}, output.target_pieces[i] || ""),
    ...weights.map((w) => el("td", { title: w.toFixed(3), style: `background: rgba(29, 53, 87, ${w})` }))));
  return el("table", { class: "heatmap" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

// ---------------------------------------------------------------------------------------- generate
function generationOptions() {
  const options = {
    temperature: parseFloat($("temperature").value), top_p: parseFloat($("top_p").value),
    max_new_tokens: parseInt($("max_new_tokens").value, 10) || 30,
  };
  const topK = parseInt($("top_k").value, 10);
  if (topK > 0) options.top_k = topK;
  if ($("seed").value !== "") options.seed = parseInt($("seed").value, 10);
  if (!$("condition-label").hidden) options.condition = $("condition").value;
  return options;
}

// Server-sent events read from a POST (EventSource only GETs): token events, an output, done.
async function generate() {
  showError("");
  const out = $("generated");
  out.replaceChildren();
  const button = $("generate");
  button.disabled = true;
  $("generate-status").textContent = "generating...";
  try {
    const answer = await call(`/v1/models/${state.model.name}/generate`,
      { prompt: $("prompt").value, options: generationOptions(), stream: true });
    const reader = answer.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        handleEvent(buffer.slice(0, end), out);
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (error) {
    showError(error.message);
  } finally {
    button.disabled = false;
  }
}

function handleEvent(block, out) {
  const kind = (block.match(/^event: (.*)$/m) || [])[1];
  const data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "null");
  if (kind === "token") {
    let sample = out.querySelector(`[data-output="${data.output}"]`);
    if (!sample) {
      sample = el("div", { class: "item sample", "data-output": data.output });
      out.append(sample);
    }
    // Pieces as they come (sentencepiece marks a word start with U+2581); the output event then puts
    // the decoded text in their place.
    const piece = data.token.replaceAll("\u2581", " ");
    // Words (a word tokenizer) get a space between them; pieces (sentencepiece) carry their own.
    if (data.token.startsWith("\u2581")) sample.dataset.pieces = "true";
    const spaced = sample.childNodes.length > 0 && !sample.dataset.pieces && data.token.length > 1;
    sample.append(el("span", { class: "token" }, spaced ? ` ${piece}` : piece));
  } else if (kind === "output") {
    let sample = out.querySelector(`[data-output="${data.output}"]`);
    if (!sample) {
      sample = el("div", { class: "item sample", "data-output": data.output });
      out.append(sample);
    }
    // A backward model writes what comes before its prompt: the text then reads before it.
    const parts = [el("b", {}, data.prompt), data.prompt && data.text ? " " : "", data.text];
    sample.replaceChildren(...(data.before_prompt ? parts.reverse() : parts));
    sample.dataset.done = "true";
  } else if (kind === "done") {
    $("generate-status").textContent = `seed ${data.seed} (repeat with the same seed for the same text)`;
  }
}

$("predict").addEventListener("click", predict);
$("generate").addEventListener("click", generate);
for (const id of ["temperature", "top_p"]) {
  $(id).addEventListener("input", () => { $(`${id}-value`).textContent = $(id).value; });
}
loadModels().catch((error) => showError(`cannot list the models: ${error.message}`));
