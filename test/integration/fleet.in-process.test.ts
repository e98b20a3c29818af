import { inProcessMode } from '../helpers/simulator-modes.js';
import { describeFleetScenarios } from './fleet-scenarios.js';

describeFleetScenarios(inProcessMode, false);
