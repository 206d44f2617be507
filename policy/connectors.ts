/** Execution-plane connectors and the endpoint platforms each can reach. */
export const CONNECTOR_TYPES = ['intune', 'jamf', 'sccm', 'landscape', 'ansible'] as const;
export type ConnectorType = (typeof CONNECTOR_TYPES)[number];

export const PLATFORMS = ['windows', 'macos', 'linux'] as const;
export type Platform = (typeof PLATFORMS)[number];

export const CONNECTOR_PLATFORMS: Readonly<Record<ConnectorType, readonly Platform[]>> = {
  intune: ['windows', 'macos'],
  jamf: ['macos'],
  sccm: ['windows'],
  landscape: ['linux'],
  ansible: ['linux', 'windows'],
};

/** One connector's share of a rollout: every ring is deployed once per assignment. */
export interface ConnectorAssignment {
  readonly connectorType: ConnectorType;
  readonly platforms: readonly Platform[];
}

export function isConnectorType(value: string): value is ConnectorType {
  return (CONNECTOR_TYPES as readonly string[]).includes(value);
}

/**
 * Groups a platform → connector map into one assignment per connector, in a stable order,
 * so two platforms served by the same connector make one ring deployment.
 */
export function assignConnectors(
  byPlatform: Partial<Record<Platform, ConnectorType>>,
): ConnectorAssignment[] {
  const grouped = new Map<ConnectorType, Platform[]>();
  for (const platform of PLATFORMS) {
    const connector = byPlatform[platform];
    if (connector === undefined) continue;
    grouped.set(connector, [...(grouped.get(connector) ?? []), platform]);
  }
  return CONNECTOR_TYPES.flatMap((connectorType) => {
    const platforms = grouped.get(connectorType);
    return platforms === undefined ? [] : [{ connectorType, platforms }];
  });
}

/** Platforms a connector was asked to serve but cannot reach. */
export function unsupportedPlatforms(byPlatform: Partial<Record<Platform, ConnectorType>>): Platform[] {
  return PLATFORMS.filter((platform) => {
    const connector = byPlatform[platform];
    return connector !== undefined && !CONNECTOR_PLATFORMS[connector].includes(platform);
  });
}
