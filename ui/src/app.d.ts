// See https://svelte.dev/docs/kit/types#app.d.ts
declare global {
  namespace App {
    interface Error {
      message: string;
      /** The API's HTTP status when a load failed on an API call (0: unreachable). */
      apiStatus?: number;
    }
  }
}

export {};
