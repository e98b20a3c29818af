import { remotingAvailable } from '../helpers/sshd.js';
import { describeFaultMatrix } from './exchange-faults.js';

describeFaultMatrix({ name: 'through PowerShell remoting (SSH)', available: remotingAvailable, remoting: true });
