export { deploymentIntentWorkflow } from './deployment-intent';
