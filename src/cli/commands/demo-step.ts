/** One step of the demo's story: what it does, what should happen, and what did. */
export interface Step {
  title: string;
  expected: string;
  run(): Promise<{ ok: boolean; observed: string; details?: string[] }>;
}

/** A part of the story: its steps, and what to close when the demo ends. */
export interface DemoSteps {
  steps: Step[];
  close(): Promise<void>;
}
