import os from "node:os";

export interface MachineInfo {
  node: string;
  platform: string;
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  /** 1, 5 and 15 minute load averages at the start: a busy machine widens every spread. */
  loadAverage: number[];
  date: string;
}

/** Load times only compare within one run, but the machine says how far to trust them. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

export function describeMachine(m: MachineInfo): string {
  return `node ${m.node} | ${m.platform} | ${m.cpus} × ${m.cpuModel} | ${m.memoryGiB} GiB | load ${m.loadAverage.join(" ")} | ${m.date}`;
}
