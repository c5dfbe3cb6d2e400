import { pino } from 'pino';
import { REDACTED_PATHS } from './logger.js';

describe('log redaction', () => {
  it('censors every secret config field, at the top and nested, and the Authorization header', () => {
    const out: string[] = [];
    const log = pino({ redact: { paths: REDACTED_PATHS, censor: '***' } }, { write: (line: string) => out.push(line) });
    log.info(
      {
        api_secret: 'top-api-secret',
        service_account_secret: 'top-sa-secret',
        config: { api_secret: 'nested-api-secret', service_account_secret: 'nested-sa-secret', service_account_username: 'sa.user' },
        body: { config: { service_account_secret: 'deeper-sa-secret' } },
        req: { headers: { authorization: 'Bearer abc.def.ghi' } },
      },
      'changed',
    );
    const line = out.join('');
    for (const secret of ['top-api-secret', 'top-sa-secret', 'nested-api-secret', 'nested-sa-secret', 'deeper-sa-secret', 'abc.def.ghi']) expect(line).not.toContain(secret);
    expect(JSON.parse(line)).toMatchObject({ config: { service_account_secret: '***', service_account_username: 'sa.user' } });
  });
});
