import { main } from '../runtime/main';

// The HTTP API alone, for deployments that scale it apart from the worker.
void main('api', process.env);
