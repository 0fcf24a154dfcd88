/** A child process running one tenant's audit retention in small batches, to be killed mid-purge. Args: databaseUrl tenantId. */
import { createPrisma } from '../../lib/clients/prisma.js';
import { runTenantRetention } from '../../lib/retention/run.js';

const [url, tenantId] = process.argv.slice(2);
const prisma = createPrisma({ databaseUrl: url! }, { max: 1 });
await runTenantRetention(prisma, tenantId!, { classes: ['audit'], batchSize: 50, runId: 'killed-run' });
await prisma.$disconnect();
