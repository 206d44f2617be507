import { ConsoleApi } from './api/client';
import { ActionKeys } from './lib/action-keys';

/** The one API client and the one set of action keys of this browser tab. */
export const api = new ConsoleApi();
export const actionKeys = new ActionKeys();
