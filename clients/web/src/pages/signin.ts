/** Sign-in for a stack without the dev config: paste a token and the child's profile id. */
import { h } from '../dom';

export function signinForm(onSubmit: (token: string, profileId: string) => Promise<void>): HTMLElement {
  const token = h('textarea', { id: 'token-input', testid: 'token-input', rows: 4, required: true, autocomplete: 'off', spellcheck: 'false' });
  const profile = h('input', { id: 'profile-input', testid: 'profile-input', required: true, autocomplete: 'off', placeholder: 'e.g. kid-1' });
  const error = h('p', { class: 'notice notice-bad', role: 'alert', hidden: true });
  const form = h('form', { class: 'card signin', testid: 'signin-form', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', { class: 'muted' }, 'Ask your school for a sign-in token. Activities are kept on this device until they reach the server.'),
    h('div', { class: 'field' }, h('label', { for: 'token-input' }, 'Sign-in token'), token),
    h('div', { class: 'field' }, h('label', { for: 'profile-input' }, 'Profile'), profile),
    error,
    h('button', { class: 'button button-primary', type: 'submit', testid: 'signin-submit' }, 'Sign in'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!token.value.trim() || !profile.value.trim()) {
      error.hidden = false;
      error.textContent = !token.value.trim() ? 'Enter the sign-in token.' : 'Enter the profile.';
      (!token.value.trim() ? token : profile).focus();
      return;
    }
    void onSubmit(token.value, profile.value);
  });
  return form;
}
