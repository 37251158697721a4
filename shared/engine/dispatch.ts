import { productEpoch } from "../clock.js";
import { takeFault } from "./faults.js";
import { drainJourney, enrolFromSignal } from "./enrol.js";
import type { StepsQueueMessage } from "./model.js";
import { deliverOutbox } from "./outbox.js";
import { handleStep } from "./runner.js";
import { runJob } from "./jobs.js";
import { getConsistent } from "./store.js";

/**
 * One message of the steps queue, whatever its kind (ENGINE §6): a Step, a Signal,
 * or an item whose outbox (or drain, or job) needs its handler. Every handler is
 * safe to run twice: Steps check the cursor's Version, signals enrol through a
 * deterministic EntryID, and outbox entries carry fixed IDs.
 */
export async function dispatch(message: StepsQueueMessage): Promise<void> {
  switch (message.Kind) {
    case "Step":
      if (takeFault("duplicate-delivery")) {
        // Local fault point: the same Step delivered twice, concurrently.
        await Promise.all([handleStep(message), handleStep(message)]);
        return;
      }
      return handleStep(message);
    case "Signal":
      return enrolFromSignal(message);
    case "Outbox": {
      const item = await getConsistent(message.Key);
      if (!item) return;
      if (item["State"] === "Active" && typeof item["EntryID"] === "string") {
        // A live cursor's outbox is delivered by its own step, which also runs it.
        return handleStep({
          Kind: "Step",
          UserID: Number(item["UserID"]),
          SubscriberID: Number(item["SubscriberID"]),
          JourneyID: Number(item["JourneyID"]),
          EntryID: String(item["EntryID"]),
          Version: Number(item["Version"]),
        });
      }
      await deliverOutbox(message.Key, item, productEpoch());
      return;
    }
    case "Job":
      return runJob(message.Key, message.EntryId);
    case "Drain":
      return drainJourney(message.Key);
  }
}

/** Parses a steps-queue body; a body that is not one of the engine's messages is poison and is dropped with a log line. */
export function parseStepsMessage(body: string): StepsQueueMessage | undefined {
  try {
    const m = JSON.parse(body) as StepsQueueMessage;
    return m && typeof m === "object" && ["Step", "Signal", "Outbox", "Drain", "Job"].includes(m.Kind) ? m : undefined;
  } catch {
    return undefined;
  }
}
