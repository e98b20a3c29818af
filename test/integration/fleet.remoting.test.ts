import { remotingMode } from '../helpers/simulator-modes.js';
import { describeFleetScenarios } from './fleet-scenarios.js';

describeFleetScenarios(remotingMode(), true);
