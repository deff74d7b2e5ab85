import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

// `npm run dev -w ui` proxies the API so the UI can be developed against a running server.
export default defineConfig({
  plugins: [sveltekit()],
  server: { proxy: { '/api': process.env.SCRNA_API_URL ?? 'http://127.0.0.1:8080' } },
  build: { chunkSizeWarningLimit: 2000 },
  // Bundle kit's own cookie version: the workspace root hoists a newer, incompatible major for the API.
  ssr: { noExternal: ['cookie'] },
});
