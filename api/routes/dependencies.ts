import type { ApiDependencies } from '../app';
import type { ConnectorReportService } from '../services/connector-reports';
import type { IntentService } from '../services/intents';
import type { SignInService } from '../services/sign-in';
import type { ApiMetrics } from '../metrics';

/** What every route module receives: the app's dependencies and the services built on them. */
export interface RouteDependencies extends ApiDependencies {
  readonly intents: IntentService;
  readonly reports: ConnectorReportService;
  readonly metrics: ApiMetrics;
  readonly signIn: SignInService;
}
