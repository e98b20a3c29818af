import { pwshPath } from '../helpers/pwsh.js';
import { describeFaultMatrix } from './exchange-faults.js';

describeFaultMatrix({ name: 'in-process', available: pwshPath !== undefined, remoting: false });
