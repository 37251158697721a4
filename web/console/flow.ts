import { html } from "htm/preact";
import type { Json } from "./api.js";

/**
 * The action tree drawn as a flow, top to bottom. journey.get lists actions flat,
 * in tree order (pre-order), each with ParentActionID, Branch and OrderNo; this
 * rebuilds the tree and lays it out with nested flex boxes: a sequence is a column,
 * and a branching action's branches are columns side by side beneath it. The DOM
 * order is therefore the tree order.
 */
export interface Action {
  ActionID: string;
  Action: string;
  ActionParameters: Record<string, unknown>;
  Notes: string;
  Published: boolean;
  ParentActionID: number | string;
  Branch: string | null;
  OrderNo: number;
}

export interface FlowNode {
  action: Action;
  branches: [name: string, children: FlowNode[]][];
}

/** The branches each branching type always has, in the order they are drawn (an empty one shows "end"). */
const BRANCHES: Record<string, string[]> = { Decision: ["True", "False"], YesNo: ["Yes", "No"] };

export function buildTree(actions: Action[]): FlowNode[] {
  const children = new Map<string, Action[]>();
  for (const a of actions) {
    const parent = Number(a.ParentActionID) || 0;
    const key = `${parent}|${parent === 0 ? "" : (a.Branch ?? "")}`;
    const list = children.get(key) ?? [];
    list.push(a);
    children.set(key, list);
  }
  const seq = (key: string): FlowNode[] =>
    [...(children.get(key) ?? [])]
      .sort((x, y) => Number(x.OrderNo) - Number(y.OrderNo))
      .map((action) => {
        const present = actions.filter((c) => Number(c.ParentActionID) === Number(action.ActionID)).map((c) => c.Branch ?? "");
        const names = [...new Set([...(BRANCHES[action.Action] ?? []), ...present])];
        return { action, branches: names.map((b): [string, FlowNode[]] => [b, seq(`${action.ActionID}|${b}`)]) };
      });
  return seq("0|");
}

/** A few of an action's settings as "Name: value" text: scalars as they are, lists by size. */
export function keySettings(params: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(params ?? {})) {
    if (out.length === 4) break;
    if (v === null || v === undefined || v === "") continue;
    if (Array.isArray(v)) out.push(`${k}: ${v.length} item${v.length === 1 ? "" : "s"}`);
    else if (typeof v === "object") out.push(`${k}: {${Object.keys(v).length}}`);
    else out.push(`${k}: ${String(v)}`);
  }
  return out;
}

export const pct = (n: number, of: number): string => (of > 0 ? `${((100 * n) / of).toFixed(1)}%` : "–");

interface FlowProps {
  nodes: FlowNode[];
  /** journey.stats.byaction's entries by ActionID. */
  stats: Map<string, Json>;
  selected: string | null;
  onSelect: (actionId: string) => void;
}

function EmailStats({ s }: { s: Json }) {
  const st = s?.Stats ?? {};
  const sent = Number(st.SendCount ?? 0);
  const cells: [string, string, string][] = [
    ["SendCount", "Sent", String(sent)],
    ["DeliveryCount", "Delivered", String(st.DeliveryCount ?? 0)],
    ["OpenCount", "Opens", String(st.OpenCount ?? 0)],
    ["ClickCount", "Clicks", String(st.ClickCount ?? 0)],
    ["OpenRate", "Open rate", pct(Number(st.OpenCount ?? 0), sent)],
    ["ClickRate", "Click rate", pct(Number(st.ClickCount ?? 0), sent)],
  ];
  return html`<dl class="stats">${cells.map(([key, label, value]) => html`<div><dt>${label}</dt><dd data-stat=${key}>${value}</dd></div>`)}</dl>`;
}

function Node({ node, ...props }: FlowProps & { node: FlowNode }) {
  const a = node.action;
  const isEmail = a.Action === "SendEmail";
  const s = props.stats.get(String(a.ActionID));
  const cls = `node t-${a.Action}${isEmail ? " clickable" : ""}${props.selected === String(a.ActionID) ? " selected" : ""}`;
  const body = html`
    <div class="node-head"><span class="type">${a.Action}</span><span class="id">#${a.ActionID}</span></div>
    ${isEmail && s?.EmailName ? html`<div class="email-name">${s.EmailName}</div>` : null}
    <ul class="settings">${keySettings(a.ActionParameters).map((t) => html`<li>${t}</li>`)}</ul>
    ${a.Notes ? html`<div class="notes">${a.Notes}</div>` : null}
    ${isEmail ? html`<${EmailStats} s=${s} />` : null}`;
  return html`<li class="step">
    ${isEmail
      ? html`<button type="button" class=${cls} data-action-id=${a.ActionID} data-action=${a.Action} title="Show this email's subscribers" onClick=${() => props.onSelect(String(a.ActionID))}>${body}</button>`
      : html`<div class=${cls} data-action-id=${a.ActionID} data-action=${a.Action}>${body}</div>`}
    ${node.branches.length
      ? html`<div class="branches">
          ${node.branches.map(
            ([name, kids]) => html`<div class="branch" data-branch=${name}>
              <div class="branch-label">${name || "next"}</div>
              ${kids.length ? html`<${Sequence} ...${props} nodes=${kids} />` : html`<div class="end">end</div>`}
            </div>`,
          )}
        </div>`
      : null}
  </li>`;
}

export function Sequence(props: FlowProps) {
  return html`<ol class="seq">${props.nodes.map((n) => html`<${Node} ...${props} node=${n} key=${n.action.ActionID} />`)}</ol>`;
}
