import { inProcessMode } from '../helpers/simulator-modes.js';
import { describeSafetyScenarios } from './safety-scenarios.js';

describeSafetyScenarios(inProcessMode);
