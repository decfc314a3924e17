// Entry point of the recommendation system: turns public requests into internal calls.
import { BadRequest, requireString, type ServiceDefinition } from '../lib/service';

export const apiGateway: ServiceDefinition = {
  name: 'api-gateway',
  calls: ['recommend', 'feature-store'],
  knobs: {},
  routes: (rt) => ({
    'GET /recommend': async ({ query }) => {
      const user = requireString(query.get('user'), 'user');
      const surface = query.get('surface') ?? 'home';
      if (surface !== 'home' && surface !== 'related') throw new BadRequest("'surface' must be home or related");
      const item = surface === 'related' ? requireString(query.get('item'), 'item') : undefined;
      const n = Math.min(50, Math.max(1, Number(query.get('n') ?? 10) || 10));
      return rt.call('recommend', '/recommend', { user, surface, item, n });
    },
    'POST /feedback': async ({ body }) => {
      const user = requireString(body?.user, 'user');
      const item = requireString(body?.item, 'item');
      const action = body?.action === 'click' || body?.action === 'skip' ? body.action : 'view';
      await rt.call('feature-store', '/features/event', { user, item, action });
      return { ok: true };
    },
  }),
};
