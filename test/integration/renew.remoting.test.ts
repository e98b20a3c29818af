import { remotingMode } from '../helpers/simulator-modes.js';
import { describeRenewScenarios } from './renew-scenarios.js';

describeRenewScenarios(remotingMode());
