import { inProcessMode } from '../helpers/simulator-modes.js';
import { describeStatusStoreScenarios } from './status-store.js';

describeStatusStoreScenarios(inProcessMode);
