import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes: operators filter the Temporal UI by these. */
export const IntentStatusKey = defineSearchAttributeKey('IntentStatus', SearchAttributeType.KEYWORD);
export const DeployRingKey = defineSearchAttributeKey('DeployRing', SearchAttributeType.KEYWORD);
export const AppNameKey = defineSearchAttributeKey('AppName', SearchAttributeType.KEYWORD);
export const RiskScoreKey = defineSearchAttributeKey('RiskScore', SearchAttributeType.INT);

export const CUSTOM_SEARCH_ATTRIBUTES = [IntentStatusKey, DeployRingKey, AppNameKey, RiskScoreKey] as const;

export type CustomSearchAttribute = (typeof CUSTOM_SEARCH_ATTRIBUTES)[number];
