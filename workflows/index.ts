export { deploymentIntentWorkflow } from './deployment-intent';
export { intentReconcilerWorkflow } from './intent-reconciler';
