import { describe, expect, it } from "vitest";
import type { ActionType, BranchName } from "../../shared/domain/trees/actions.js";
import type { StoredAction } from "../../shared/domain/trees/tree-store.js";
import { computeRedirects, followRedirects, JourneyTree, progress } from "../../shared/engine/tree.js";

/** A compact tree description: [id, type, branches?], published unless its id is listed as hidden. */
type Spec = [number, ActionType, Partial<Record<BranchName, Spec[]>>?];

/** Flattens a spec into stored actions, pre-order, as toStored does. */
function stored(specs: Spec[], hidden: number[] = []): StoredAction[] {
  const out: StoredAction[] = [];
  const walk = (list: Spec[], parent: number, branch: "" | BranchName) =>
    list.forEach(([id, type, branches], i) => {
      out.push({
        ActionID: id,
        Action: type,
        ActionParameters: {},
        Published: !hidden.includes(id),
        Notes: "",
        ParentActionID: parent,
        Branch: branch,
        OrderNo: i + 1,
      });
      for (const name of ["True", "False", "Yes", "No"] as const) {
        const children = branches?.[name];
        if (children) walk(children, id, name);
      }
    });
  walk(specs, 0, "");
  return out;
}

/**
 *  1 SendEmail
 *  2 Decision
 *     True:  3 Wait, 4 AddTag
 *     False: 5 YesNo (Yes: 6 Webhook; No: empty), 7 RemoveTag
 *  8 Wait
 *  9 SendEmail
 */
const SPEC: Spec[] = [
  [1, "SendEmail"],
  [
    2,
    "Decision",
    {
      True: [
        [3, "Wait"],
        [4, "AddTag"],
      ],
      False: [
        [5, "YesNo", { Yes: [[6, "Webhook"]], No: [] }],
        [7, "RemoveTag"],
      ],
    },
  ],
  [8, "Wait"],
  [9, "SendEmail"],
];
const tree = (hidden: number[] = []) => new JourneyTree(stored(SPEC, hidden));

describe("JourneyTree: first, get", () => {
  it("first() is the first published top-level action", () => {
    expect(tree().first()).toBe(1);
    expect(tree([1]).first()).toBe(2);
    expect(tree([1, 2]).first()).toBe(8);
    expect(tree([1, 2, 8, 9]).first()).toBe(0);
    expect(new JourneyTree([]).first()).toBe(0);
  });
  it("first() never enters a branch, even when the Decision is hidden", () => {
    expect(tree([1, 2]).first()).toBe(8);
  });
  it("get, has, children", () => {
    const t = tree();
    expect(t.get(5)?.Action).toBe("YesNo");
    expect(t.get(42)).toBeUndefined();
    expect(t.has(9)).toBe(true);
    expect(t.children(2, "False").map((a) => a.ActionID)).toEqual([5, 7]);
    expect(t.children(5, "No")).toEqual([]);
    expect(t.children(0).map((a) => a.ActionID)).toEqual([1, 2, 8, 9]);
  });
  it("isLive: published, and so is every ancestor", () => {
    const t = tree([2]);
    expect(t.isLive(1)).toBe(true);
    expect(t.isLive(2)).toBe(false);
    expect(t.isLive(6)).toBe(false);
    expect(t.isLive(8)).toBe(true);
  });
});

describe("JourneyTree.next (§5.3)", () => {
  const t = tree();
  it("follows siblings and takes chosen branches", () => {
    expect(t.next(1)).toBe(2);
    expect(t.next(2, "True")).toBe(3);
    expect(t.next(3)).toBe(4);
    expect(t.next(2, "False")).toBe(5);
    expect(t.next(5, "Yes")).toBe(6);
    expect(t.next(8)).toBe(9);
  });
  it("branches rejoin after their Decision, outward", () => {
    expect(t.next(4)).toBe(8);
    expect(t.next(6)).toBe(7);
    expect(t.next(7)).toBe(8);
  });
  it("an empty branch continues at the branching action's following sibling", () => {
    expect(t.next(5, "No")).toBe(7);
  });
  it("past the end of the top level is 0", () => {
    expect(t.next(9)).toBe(0);
  });
  it("a branching action without a branch, or a branch on another type, continues at its sibling", () => {
    expect(t.next(2)).toBe(8);
    expect(t.next(1, "True")).toBe(2);
    expect(t.next(2, "Yes")).toBe(8);
  });
  it("throws for an action not in the tree", () => {
    expect(() => t.next(42)).toThrow(RangeError);
  });
});

describe("JourneyTree: unpublished actions are absent", () => {
  it("an unpublished sibling is passed over", () => {
    expect(tree([8]).next(4)).toBe(9);
    expect(tree([8, 9]).next(4)).toBe(0);
    expect(tree([3]).next(2, "True")).toBe(4);
  });
  it("an unpublished Decision is passed over with its branches", () => {
    expect(tree([2]).next(1)).toBe(8);
  });
  it("a branch whose actions are all unpublished acts as empty", () => {
    expect(tree([3, 4]).next(2, "True")).toBe(8);
    expect(tree([6]).next(5, "Yes")).toBe(7);
  });
  it("an unpublished YesNo takes its Yes branch with it", () => {
    expect(tree([5]).next(2, "False")).toBe(7);
  });
  it("a cursor inside a Decision unpublished since (a started Wait) leaves by the Decision's continuation", () => {
    expect(tree([2]).next(3)).toBe(8);
    expect(tree([2, 8]).next(3)).toBe(9);
  });
  it("an unpublished branching action ignores the chosen branch", () => {
    expect(tree([5]).next(5, "Yes")).toBe(7);
  });
  it("resolve: itself when live, else its continuation as if absent", () => {
    expect(tree().resolve(8)).toBe(8);
    expect(tree([8]).resolve(8)).toBe(9);
    expect(tree([9]).resolve(9)).toBe(0);
    expect(tree([3]).resolve(3)).toBe(4);
    expect(tree([3, 4]).resolve(3)).toBe(8);
    expect(tree([2]).resolve(4)).toBe(8);
    expect(() => tree().resolve(42)).toThrow(RangeError);
  });
});

describe("JourneyTree: order comes from OrderNo, not list position", () => {
  it("a shuffled list walks the same", () => {
    const list = stored(SPEC);
    const shuffled = [...list].reverse();
    const a = new JourneyTree(list);
    const b = new JourneyTree(shuffled);
    for (const id of [1, 3, 4, 6, 7, 8, 9]) expect(b.next(id)).toBe(a.next(id));
    expect(b.first()).toBe(1);
    expect(b.next(2, "False")).toBe(5);
  });
  it("an orphan (its parent missing) is left out", () => {
    const list = stored(SPEC).filter((a) => a.ActionID !== 5);
    const t = new JourneyTree(list);
    expect(t.has(6)).toBe(false);
    expect(t.next(2, "False")).toBe(7);
  });
});

describe("computeRedirects (§5.4)", () => {
  const old = stored(SPEC);
  const without = (...ids: number[]) => old.filter((a) => !ids.includes(a.ActionID));
  const redirects = (...ids: number[]) => Object.fromEntries(computeRedirects(old, without(...ids)));

  it("a deleted action redirects to its following sibling", () => {
    expect(redirects(3)).toEqual({ 3: 4 });
    expect(redirects(8)).toEqual({ 8: 9 });
  });
  it("at the end of a branch, outward to the enclosing action's following sibling", () => {
    expect(redirects(4)).toEqual({ 4: 8 });
    expect(redirects(3, 4)).toEqual({ 3: 8, 4: 8 });
    expect(redirects(6)).toEqual({ 6: 7 });
    expect(redirects(6, 7)).toEqual({ 6: 8, 7: 8 });
  });
  it("the last top-level action, or everything after it gone, is 0 (complete)", () => {
    expect(redirects(9)).toEqual({ 9: 0 });
    expect(redirects(8, 9)).toEqual({ 8: 0, 9: 0 });
    expect(Object.fromEntries(computeRedirects(old, []))).toEqual(Object.fromEntries(old.map((a) => [a.ActionID, 0])));
  });
  it("a deleted Decision and its branches all go to its following sibling", () => {
    expect(redirects(2, 3, 4, 5, 6, 7)).toEqual({ 2: 8, 3: 8, 4: 8, 5: 8, 6: 8, 7: 8 });
  });
  it("never enters a branch: a surviving child of a deleted following sibling is not a target", () => {
    // 1 and 2 deleted, 3 survives (moved to the top level in the new tree).
    const next = without(1, 2).map((a) => (a.ActionID === 3 ? { ...a, ParentActionID: 0, Branch: "" as const, OrderNo: 0 } : a));
    expect(Object.fromEntries(computeRedirects(old, next))[1]).toBe(8);
  });
  it("a surviving action counts where it now is, and whether or not it is published", () => {
    const moved = without(3).map((a) => (a.ActionID === 4 ? { ...a, ParentActionID: 0, Branch: "" as const, OrderNo: 9 } : a));
    expect(Object.fromEntries(computeRedirects(old, moved))).toEqual({ 3: 4 });
    const hidden = without(3).map((a) => (a.ActionID === 4 ? { ...a, Published: false } : a));
    expect(Object.fromEntries(computeRedirects(old, hidden))).toEqual({ 3: 4 });
  });
  it("only deleted actions get a redirect", () => {
    expect(computeRedirects(old, old).size).toBe(0);
  });
  it("followRedirects walks a chain of edits to the first action that exists", () => {
    // Edit 1 deleted 3 (→ 4); edit 2 deleted 4 (→ 8). The current tree has 8.
    const items = new Map([
      [3, 4],
      [4, 8],
    ]);
    const current = new Set([1, 2, 8, 9]);
    expect(followRedirects(3, (id) => current.has(id), (id) => items.get(id))).toBe(8);
    expect(followRedirects(9, (id) => current.has(id), (id) => items.get(id))).toBe(9);
    expect(followRedirects(3, () => false, (id) => items.get(id) ?? 0)).toBe(0);
    // A redirect item not yet written: undefined, the caller re-queues.
    expect(followRedirects(5, (id) => current.has(id), (id) => items.get(id))).toBeUndefined();
    expect(() => followRedirects(1, () => false, (id) => (id === 1 ? 2 : 1))).toThrow(/cycle/);
  });
});

describe("progress (§3.2's CurrentStep and TotalSteps)", () => {
  const t = tree();
  const p = (passed: number, current: number, ended = false, on = t) => progress(on, passed, current, ended);

  it("at enrolment: every published action counts, both branches of the Decision included", () => {
    expect(p(0, 1)).toEqual({ CurrentStep: 1, TotalSteps: 9 });
  });
  it("at the Decision: its whole subtree is ahead", () => {
    expect(p(1, 2)).toEqual({ CurrentStep: 2, TotalSteps: 9 });
  });
  it("in the True branch: the rest of that branch, then after the Decision; the False branch no longer counts", () => {
    // Passed 1 and 2; ahead 3, 4, 8, 9.
    expect(p(2, 3)).toEqual({ CurrentStep: 3, TotalSteps: 6 });
    expect(p(3, 4)).toEqual({ CurrentStep: 4, TotalSteps: 6 });
  });
  it("in the False branch: the YesNo with its Yes branch, the rest, then after the Decision", () => {
    // Passed 1, 2; ahead 5, 6, 7, 8, 9.
    expect(p(2, 5)).toEqual({ CurrentStep: 3, TotalSteps: 7 });
    // Passed 1, 2, 5 (took Yes); ahead 6, 7, 8, 9.
    expect(p(3, 6)).toEqual({ CurrentStep: 4, TotalSteps: 7 });
    // Passed 1, 2, 5 (took the empty No); ahead 7, 8, 9.
    expect(p(3, 7)).toEqual({ CurrentStep: 4, TotalSteps: 6 });
  });
  it("after the Decision", () => {
    expect(p(4, 8)).toEqual({ CurrentStep: 5, TotalSteps: 6 });
    expect(p(5, 9)).toEqual({ CurrentStep: 6, TotalSteps: 6 });
  });
  it("once ended: Passed of Passed", () => {
    expect(p(6, 0, true)).toEqual({ CurrentStep: 6, TotalSteps: 6 });
    expect(p(2, 3, true)).toEqual({ CurrentStep: 2, TotalSteps: 2 });
  });
  it("nothing under an unpublished action counts", () => {
    expect(p(0, 1, false, tree([2]))).toEqual({ CurrentStep: 1, TotalSteps: 3 });
    expect(p(1, 2, false, tree([5]))).toEqual({ CurrentStep: 2, TotalSteps: 1 + 6 });
    expect(p(0, 1, false, tree([8]))).toEqual({ CurrentStep: 1, TotalSteps: 8 });
  });
  it("a cursor parked in a Wait whose Decision was unpublished since: only what follows the Decision", () => {
    expect(p(2, 3, false, tree([2]))).toEqual({ CurrentStep: 3, TotalSteps: 4 });
  });
  it("an action not in the tree (or 0) has nothing ahead", () => {
    expect(p(3, 42)).toEqual({ CurrentStep: 4, TotalSteps: 3 });
    expect(t.ahead(0)).toBe(0);
  });
  it("a tree with no published action", () => {
    const none = tree([1, 2, 8, 9]);
    expect(none.first()).toBe(0);
    expect(p(0, 0, true, none)).toEqual({ CurrentStep: 0, TotalSteps: 0 });
  });
});
