import { remotingMode } from '../helpers/simulator-modes.js';
import { describeStatusStoreScenarios } from './status-store.js';

describeStatusStoreScenarios(remotingMode());
