import type { Logger } from './logger';

/** What was started, undone in reverse order; one failing step does not keep the others from running. */
export class ShutdownStack {
  private readonly steps: (() => Promise<void>)[] = [];

  constructor(private readonly logger: Logger) {}

  push(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async unwind(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        this.logger.warn({ err: error }, 'error during shutdown');
      }
    }
  }
}
