/**
 * Idempotency-Keys for people's actions: one key per intent of the person, so a double click or a retry
 * after a lost answer sends the same key (the API then answers once and acts once), while a changed
 * request gets a new key (the API refuses one key for two different requests).
 */
export class ActionKeys {
  private readonly current = new Map<string, { request: string; key: string }>();

  constructor(private readonly newKey: () => string = () => crypto.randomUUID()) {}

  /** The key for this action with this request: the same until the request changes or the action is done. */
  keyFor(action: string, request: unknown): string {
    const fingerprint = JSON.stringify(request ?? null);
    const known = this.current.get(action);
    if (known?.request === fingerprint) return known.key;
    const key = this.newKey();
    this.current.set(action, { request: fingerprint, key });
    return key;
  }

  /** The action took effect: the next one is a new intent of the person, with a new key. */
  done(action: string): void {
    this.current.delete(action);
  }
}
