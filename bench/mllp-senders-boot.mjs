// Worker entry for the intake benchmark's senders: workers do not inherit `--import tsx`.
import { register } from 'tsx/esm/api';

register();
await import('./mllp-senders.ts');
