import { main } from './runtime/main';

// The Temporal worker alone: deployment intent workflows and their activities.
void main('worker', process.env);
