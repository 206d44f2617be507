export default async function globalTeardown(): Promise<void> {
  await globalThis.__EUCORA_TEMPORAL__?.stop();
}
