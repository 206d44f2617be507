import { main } from './main';

// `npm start`: the whole system in one process (API, worker, and the embedded defaults).
void main('all', process.env);
