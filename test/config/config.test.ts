import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig } from '../../agent/config';

function tmpFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-config-'));
  const file = path.join(dir, 'faultline.yaml');
  fs.writeFileSync(file, text);
  return file;
}

describe('config', () => {
  it('has defaults that listen on loopback on the standard ports', () => {
    const c = loadConfig({ env: {} });
    expect(c.otlp.http).toMatchObject({ host: '127.0.0.1', port: 4318 });
    expect(c.otlp.grpc).toMatchObject({ host: '127.0.0.1', port: 4317 });
    expect(c.api).toMatchObject({ host: '127.0.0.1', port: 7070 });
    expect(c.store.windowMinutes).toBe(15);
    expect(c.llm.enabled).toBe(false);
  });

  it('reads YAML, then lets the environment and flags override it', () => {
    const file = tmpFile('api:\n  port: 9000\nstore:\n  windowMinutes: 5\n');
    const c = loadConfig({ file, env: { FAULTLINE_API_PORT: '9100', FAULTLINE_TOKEN: '12345678901' }, overrides: [[['store', 'windowMinutes'], 3]] });
    expect(c.api.port).toBe(9100);
    expect(c.api.token).toBe('12345678901');
    expect(c.store.windowMinutes).toBe(3);
  });

  it('names the file and key of an unknown key (a typo fails loudly)', () => {
    const file = tmpFile('api:\n  prot: 9000\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ file, env: {} })).toThrow(/faultline\.yaml: invalid configuration:\n {2}api: unknown key\(s\) 'prot'/);
  });

  it('names the key and the problem of a wrongly typed value', () => {
    expect(() => loadConfig({ env: { FAULTLINE_API_PORT: 'seventy' } })).toThrow(/api\.port: .*expected number/);
    const file = tmpFile('otlp:\n  http:\n    port: 70000\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/otlp\.http\.port/);
  });

  it('reports the line of a YAML syntax error', () => {
    const file = tmpFile('api:\n  port: 1\n bad: [\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/faultline\.yaml:\d+: invalid YAML/);
  });

  it('reports a missing file by name', () => {
    expect(() => loadConfig({ file: '/nonexistent/faultline.yaml', env: {} })).toThrow(/\/nonexistent\/faultline\.yaml: cannot read config file \(ENOENT\)/);
  });

  it('turns the LLM step on from the OpenAI environment variables', () => {
    const c = loadConfig({ env: { OPENAI_BASE_URL: 'http://127.0.0.1:8080/v1', FAULTLINE_LLM_MODEL: 'local' } });
    expect(c.llm).toMatchObject({ enabled: true, baseURL: 'http://127.0.0.1:8080/v1', model: 'local' });
  });
});
