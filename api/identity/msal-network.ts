import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

/**
 * MSAL's HTTP calls (token redemption) through the same `fetch` EUCORA uses for discovery and signing
 * keys, so one setting decides how the identity provider is reached, and tests can hand MSAL a `fetch`
 * that trusts their CA. Shaped like MSAL's own fetch client: JSON bodies, headers as a plain object.
 */
export class FetchNetworkClient implements INetworkModule {
  constructor(
    private readonly fetch: typeof globalThis.fetch,
    private readonly timeoutMs: number,
  ) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number) {
    return this.send<T>(url, 'GET', options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions) {
    return this.send<T>(url, 'POST', options);
  }

  private async send<T>(
    url: string,
    method: 'GET' | 'POST',
    options: NetworkRequestOptions | undefined,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    const response = await this.fetch(url, {
      method,
      headers: options?.headers ?? {},
      ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
      signal: AbortSignal.timeout(timeout ?? this.timeoutMs),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return { headers, body: (await response.json()) as T, status: response.status };
  }
}
