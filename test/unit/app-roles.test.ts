import {
  AppRoleMapError,
  DEFAULT_APP_ROLES,
  grantOfServicePrincipal,
  parseAppRoleMap,
  rolesOfPerson,
} from '../../policy/app-roles';

const defaults = parseAppRoleMap(DEFAULT_APP_ROLES);

describe('the app-role map (ENTRA_APP_ROLES)', () => {
  it('declares one app role per EUCORA role and per connector type by default', () => {
    expect(DEFAULT_APP_ROLES).toMatchObject({
      'EUCORA.Submitter': 'submitter',
      'EUCORA.CabMember': 'cab_member',
      'EUCORA.Operator': 'operator',
      'EUCORA.Auditor': 'auditor',
      'EUCORA.Admin': 'admin',
      'EUCORA.MetricsReader': 'metrics_reader',
      'EUCORA.Connector.Intune': 'connector:intune',
      'EUCORA.Connector.Landscape': 'connector:landscape',
    });
  });

  it('names every bad entry', () => {
    let error: unknown;
    try {
      parseAppRoleMap({ A: 'superuser', B: 'connector:teams', C: 'connector', D: 3, E: 'auditor' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppRoleMapError);
    expect((error as AppRoleMapError).problems).toEqual([
      expect.stringMatching(/^A: superuser is not a EUCORA role/),
      expect.stringMatching(/^B: teams is not a connector type/),
      expect.stringMatching(/^C: connector is not a EUCORA role/),
      'D: must be a role name or connector:<type>',
    ]);
  });
});

describe('a person’s roles', () => {
  it.each([
    [
      'mapped roles, in EUCORA’s order',
      ['EUCORA.CabMember', 'EUCORA.Submitter'],
      ['submitter', 'cab_member'],
    ],
    ['unknown app roles ignored', ['Other.Reader', 'EUCORA.Auditor'], ['auditor']],
    ['machine roles never granted to a person', ['EUCORA.Connector.Intune', 'EUCORA.MetricsReader'], []],
    ['no claim', undefined, []],
    ['a claim that is not a list', 'EUCORA.Admin', []],
    ['non-strings in the list', [42, null, 'EUCORA.Admin'], ['admin']],
    ['duplicates once', ['EUCORA.Admin', 'EUCORA.Admin'], ['admin']],
  ])('%s', (_case, claim, roles) => {
    expect(rolesOfPerson(defaults, claim)).toEqual(roles);
  });
});

describe('a service principal’s grant', () => {
  it.each([
    ['a connector of one type', ['EUCORA.Connector.Jamf'], { kind: 'connector', connectorType: 'jamf' }],
    ['a metrics scraper', ['EUCORA.MetricsReader'], { kind: 'service', roles: ['metrics_reader'] }],
    [
      'automation with roles',
      ['EUCORA.Submitter', 'EUCORA.Auditor'],
      { kind: 'service', roles: ['submitter', 'auditor'] },
    ],
    ['nothing mapped', ['Other.Role'], { kind: 'refused', reason: 'no_app_role' }],
    ['no claim', undefined, { kind: 'refused', reason: 'no_app_role' }],
    [
      'two connector types',
      ['EUCORA.Connector.Jamf', 'EUCORA.Connector.Intune'],
      { kind: 'refused', reason: 'ambiguous_app_roles' },
    ],
    [
      'a connector that is also an admin',
      ['EUCORA.Connector.Jamf', 'EUCORA.Admin'],
      { kind: 'refused', reason: 'ambiguous_app_roles' },
    ],
  ])('%s', (_case, claim, grant) => {
    expect(grantOfServicePrincipal(defaults, claim)).toEqual(grant);
  });
});
