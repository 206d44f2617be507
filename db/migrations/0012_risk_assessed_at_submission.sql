-- The risk assessment the API makes when it accepts an intent: part of the workflow input fixed at submission
-- (runtime/intent-workflows.ts), recorded by the workflow as RISK_ASSESSED with its first decision. Null on
-- intents accepted before, which their workflow assesses itself.
ALTER TABLE "deployment_intents" ADD COLUMN "risk_assessment" jsonb;