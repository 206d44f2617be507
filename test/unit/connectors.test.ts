import {
  CONNECTOR_PLATFORMS,
  CONNECTOR_TYPES,
  PLATFORMS,
  assignConnectors,
  isConnectorType,
  unsupportedPlatforms,
} from '../../policy/connectors';
import type { ConnectorAssignment, ConnectorType, Platform } from '../../policy/connectors';

type ByPlatform = Partial<Record<Platform, ConnectorType>>;

describe('isConnectorType', () => {
  it.each<{ case: string; value: string; connector: boolean }>([
    { case: 'accepts intune', value: 'intune', connector: true },
    { case: 'accepts jamf', value: 'jamf', connector: true },
    { case: 'accepts sccm', value: 'sccm', connector: true },
    { case: 'accepts landscape', value: 'landscape', connector: true },
    { case: 'accepts ansible', value: 'ansible', connector: true },
    { case: 'rejects an upper-case connector name', value: 'Intune', connector: false },
    { case: 'rejects an unknown connector', value: 'puppet', connector: false },
    { case: 'rejects a platform name', value: 'windows', connector: false },
    { case: 'rejects the empty string', value: '', connector: false },
  ])('$case', ({ value, connector }) => {
    expect(isConnectorType(value)).toBe(connector);
  });
});

describe('CONNECTOR_PLATFORMS', () => {
  const reachable: Record<ConnectorType, Platform[]> = {
    intune: ['windows', 'macos'],
    jamf: ['macos'],
    sccm: ['windows'],
    landscape: ['linux'],
    ansible: ['linux', 'windows'],
  };
  const matrix = CONNECTOR_TYPES.flatMap((connector) =>
    PLATFORMS.map((platform) => ({
      case: `${connector} ${reachable[connector].includes(platform) ? 'reaches' : 'cannot reach'} ${platform}`,
      connector,
      platform,
      supported: reachable[connector].includes(platform),
    })),
  );

  it.each(matrix)('$case', ({ connector, platform, supported }) => {
    expect(CONNECTOR_PLATFORMS[connector].includes(platform)).toBe(supported);
  });
});

describe('assignConnectors', () => {
  it.each<{ case: string; byPlatform: ByPlatform; assignments: ConnectorAssignment[] }>([
    { case: 'assigns nothing when no platform is mapped', byPlatform: {}, assignments: [] },
    {
      case: 'skips a platform mapped to undefined',
      byPlatform: { windows: undefined, linux: 'landscape' },
      assignments: [{ connectorType: 'landscape', platforms: ['linux'] }],
    },
    {
      case: 'gives one assignment for one platform',
      byPlatform: { macos: 'jamf' },
      assignments: [{ connectorType: 'jamf', platforms: ['macos'] }],
    },
    {
      case: 'groups two platforms served by the same connector into one assignment',
      byPlatform: { windows: 'intune', macos: 'intune' },
      assignments: [{ connectorType: 'intune', platforms: ['windows', 'macos'] }],
    },
    {
      case: 'lists grouped platforms in platform order, not map order',
      byPlatform: { linux: 'ansible', windows: 'ansible' },
      assignments: [{ connectorType: 'ansible', platforms: ['windows', 'linux'] }],
    },
    {
      case: 'orders assignments by connector type, not by platform',
      byPlatform: { windows: 'sccm', macos: 'jamf', linux: 'landscape' },
      assignments: [
        { connectorType: 'jamf', platforms: ['macos'] },
        { connectorType: 'sccm', platforms: ['windows'] },
        { connectorType: 'landscape', platforms: ['linux'] },
      ],
    },
    {
      case: 'groups some platforms and keeps others apart',
      byPlatform: { linux: 'ansible', macos: 'jamf', windows: 'ansible' },
      assignments: [
        { connectorType: 'jamf', platforms: ['macos'] },
        { connectorType: 'ansible', platforms: ['windows', 'linux'] },
      ],
    },
    {
      case: 'groups every platform under one connector, even one that cannot reach them all',
      byPlatform: { windows: 'intune', macos: 'intune', linux: 'intune' },
      assignments: [{ connectorType: 'intune', platforms: ['windows', 'macos', 'linux'] }],
    },
  ])('$case', ({ byPlatform, assignments }) => {
    expect(assignConnectors(byPlatform)).toEqual(assignments);
  });

  it('gives the same assignments whatever order the map was built in', () => {
    const forward: ByPlatform = { windows: 'intune', macos: 'jamf', linux: 'landscape' };
    const backward: ByPlatform = { linux: 'landscape', macos: 'jamf', windows: 'intune' };
    expect(assignConnectors(backward)).toEqual(assignConnectors(forward));
  });
});

describe('unsupportedPlatforms', () => {
  it.each<{ case: string; byPlatform: ByPlatform; platforms: Platform[] }>([
    { case: 'finds none when no platform is mapped', byPlatform: {}, platforms: [] },
    {
      case: 'finds none when every connector reaches its platform',
      byPlatform: { windows: 'sccm', macos: 'jamf', linux: 'landscape' },
      platforms: [],
    },
    { case: 'names windows sent to jamf', byPlatform: { windows: 'jamf' }, platforms: ['windows'] },
    { case: 'names linux sent to intune', byPlatform: { linux: 'intune' }, platforms: ['linux'] },
    { case: 'names macos sent to ansible', byPlatform: { macos: 'ansible' }, platforms: ['macos'] },
    {
      case: 'names only the unreachable platforms of a mixed map',
      byPlatform: { windows: 'intune', macos: 'sccm', linux: 'ansible' },
      platforms: ['macos'],
    },
    {
      case: 'names every unreachable platform in platform order',
      byPlatform: { linux: 'jamf', windows: 'landscape', macos: 'jamf' },
      platforms: ['windows', 'linux'],
    },
    {
      case: 'skips a platform mapped to undefined',
      byPlatform: { windows: undefined },
      platforms: [],
    },
  ])('$case', ({ byPlatform, platforms }) => {
    expect(unsupportedPlatforms(byPlatform)).toEqual(platforms);
  });
});
